"""Inbox bodies are authenticated before they are parsed, and no stranger's body is read past
the ordinary limit: only an active peer's instance actor may send settlement-sized bodies,
and only to the instance inbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from activitypub.signatures import digest_header
from server.context import context
from server.models import InboxItem, Peer, PeerState
from server.settings import Settings
from tests.support.accounts import make_account
from tests.support.network import Network, running
from tests.support.remote import RemoteActor

LIMIT = 4096  # the ordinary limit of these tests (the settlement limit stays 32 MiB)
CHUNK = 1024
INSTANCE_INBOX = "http://alpha.test/actor/inbox"
SHARED_INBOX = "http://alpha.test/inbox"


@pytest.fixture
async def alpha(network: Network, alpha_settings: Settings) -> AsyncIterator[Starlette]:
    async with running(network, alpha_settings.replace(max_body_bytes=LIMIT)) as app:
        yield app


def _padded(mastodon: RemoteActor, size: int, n: int = 1) -> bytes:
    """A signed-worthy activity of about `size` bytes (a Flag: stored, then ignored)."""
    activity = {
        "id": f"{mastodon.uri}#flags/{n}",
        "type": "Flag",
        "actor": mastodon.uri,
        "object": "http://alpha.test/users/nobody",
        "content": "",
    }
    padding = size - len(json.dumps(activity).encode())
    return json.dumps({**activity, "content": "x" * max(padding, 0)}).encode()


class Pulled:
    """A request body given chunk by chunk, counting what the server asked for."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            chunk = self.body[start : start + CHUNK]
            self.pulled += len(chunk)
            yield chunk


async def _post(
    network: Network, url: str, body: bytes | Pulled, headers: dict[str, str]
) -> httpx.Response:
    async with network.client("alpha.test") as http:
        return await http.post(url, content=body, headers=headers)


async def _stored(app: Starlette) -> int:
    async with context(app).db.session() as session:
        return int((await session.exec(select(func.count()).select_from(InboxItem))).one())


async def _peer(app: Starlette, mastodon: RemoteActor, state: PeerState) -> None:
    """mastodon.test as a settlement peer, bob standing as its instance actor."""
    async with context(app).db.transaction() as session:
        session.add(
            Peer(
                domain=mastodon.server.host,
                state=state,
                currency="EUR",
                credit_limit=100_000,
                actor_uri=mastodon.uri,
                inbox=f"http://{mastodon.server.host}/inbox",
            )
        )


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The sizes of the documents larger than LIMIT that `json.loads` was given."""
    sizes: list[int] = []
    loads: Callable[..., Any] = json.loads

    def spying(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if len(text) > LIMIT:
            sizes.append(len(text))
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", spying)
    yield sizes


async def test_an_unsigned_body_is_refused_unread_and_unparsed(
    alpha: Starlette, network: Network, parsed: list[int]
) -> None:
    # Given an unsigned body over the ordinary limit, JSON only up to it
    body = Pulled(b'{"a": [' + b"{}, " * LIMIT + b"not JSON")
    headers = {"Content-Type": "application/activity+json", "Content-Length": str(len(body.body))}
    # When it is posted to the instance inbox, which takes settlement-sized bodies
    response = await _post(network, INSTANCE_INBOX, body, headers)
    # Then it is refused for its missing signature, before a byte of it is read or parsed
    assert response.status_code == 401, response.text
    assert response.headers["connection"] == "close"
    assert body.pulled == 0
    assert parsed == []
    assert await _stored(alpha) == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_signed_body_from_a_stranger_stops_at_the_ordinary_limit(
    alpha: Starlette, network: Network, mastodon: RemoteActor, parsed: list[int], declared: bool
) -> None:
    # Given bob (no peer) signs a body of twice the ordinary limit, JSON only up to it
    raw = _padded(mastodon, LIMIT)[:-1] + b"x" * LIMIT
    body, headers = mastodon.signed(INSTANCE_INBOX, raw)
    pulled = Pulled(body)
    if not declared:
        headers = {name: value for name, value in headers.items() if name != "Content-Length"}
    else:
        headers["Content-Length"] = str(len(body))
    # When he posts it to the instance inbox
    response = await _post(network, INSTANCE_INBOX, pulled, headers)
    # Then it is too large for him: no more than the limit was read, nothing parsed or stored
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"
    assert pulled.pulled <= (LIMIT + CHUNK if not declared else 0)
    assert parsed == []
    assert await _stored(alpha) == 0


async def test_an_active_peers_instance_actor_may_send_settlement_sizes(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given mastodon.test is an active peer whose instance actor is bob
    await _peer(alpha, mastodon, PeerState.active)
    large = _padded(mastodon, 4 * LIMIT)
    # When bob posts a body over the ordinary limit to the instance inbox
    accepted = await _post(network, INSTANCE_INBOX, *mastodon.signed(INSTANCE_INBOX, large))
    # Then it is taken; elsewhere the ordinary limit still holds for him
    assert accepted.status_code == 202, accepted.text
    shared = await _post(network, SHARED_INBOX, *mastodon.signed(SHARED_INBOX, large))
    assert shared.status_code == 413
    assert await _stored(alpha) == 1


@pytest.mark.parametrize("state", [PeerState.proposed, PeerState.suspended, PeerState.ended])
async def test_a_peer_that_is_not_active_has_the_ordinary_limit(
    alpha: Starlette, network: Network, mastodon: RemoteActor, state: PeerState
) -> None:
    await _peer(alpha, mastodon, state)
    large = _padded(mastodon, 4 * LIMIT)
    refused = await _post(network, INSTANCE_INBOX, *mastodon.signed(INSTANCE_INBOX, large))
    assert refused.status_code == 413
    small = await _post(
        network, INSTANCE_INBOX, *mastodon.signed(INSTANCE_INBOX, _padded(mastodon, 500))
    )
    assert small.status_code == 202, small.text
    assert await _stored(alpha) == 1


async def test_another_actor_of_a_peers_domain_has_the_ordinary_limit(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await _peer(alpha, mastodon, PeerState.active)
    async with context(alpha).db.transaction() as session:
        peer = (await session.exec(select(Peer))).one()
        peer.actor_uri = f"http://{mastodon.server.host}/actor"
        session.add(peer)
    large = _padded(mastodon, 4 * LIMIT)
    refused = await _post(network, INSTANCE_INBOX, *mastodon.signed(INSTANCE_INBOX, large))
    assert refused.status_code == 413


@pytest.mark.parametrize(
    "url", [SHARED_INBOX, INSTANCE_INBOX, "http://alpha.test/users/carol/inbox"]
)
async def test_a_body_that_does_not_match_its_digest_is_refused_and_not_stored(
    alpha: Starlette, network: Network, mastodon: RemoteActor, url: str
) -> None:
    await make_account(alpha, "carol")
    body, headers = mastodon.signed(url, _padded(mastodon, 600))
    other = _padded(mastodon, 600, n=2)
    cases = {
        "another body": (other, headers),
        "a longer body": (body + b" ", headers),
        "a digest of another body": (
            body,
            {**headers, "Digest": digest_header(other)},  # the signature no longer verifies
        ),
        "no SHA-256": (body, {**headers, "Digest": "MD5=AAAA"}),
        "not base64": (body, {**headers, "Digest": "SHA-256=***"}),
    }
    for name, (sent, sent_headers) in cases.items():
        response = await _post(network, url, sent, sent_headers)
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert response.json()["code"] == "signature_rejected"
    assert await _stored(alpha) == 0
    assert (await _post(network, url, body, headers)).status_code == 202
    assert await _stored(alpha) == 1
