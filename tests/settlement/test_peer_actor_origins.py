"""A settlement peer's instance actor is held to the same rule as any actor: its inbox and
its Ed25519 key (FEP-521a assertionMethod) must be on its own origin, or the admin's
proposal is refused with a clear message and no peer is recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from activitypub.nodeinfo import Usage, build_nodeinfo, build_nodeinfo_links, settlement_metadata
from server.context import context
from server.models import Peer
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.network import Network
from tests.support.remote import RemoteActor, RemoteServer, serve_remote

PEER = "peer.test"


def _settling_site(network: Network, **changes: Any) -> RemoteServer:
    """peer.test: NodeInfo that settles in EUR, and its instance actor with `changes`."""
    site = serve_remote(network, PEER)
    actor = RemoteActor(site, PEER)
    uri = f"{site.base}/actor"
    site.documents["/.well-known/nodeinfo"] = build_nodeinfo_links(site.base)
    site.documents["/nodeinfo/2.1"] = build_nodeinfo(
        "2.1", "0.1.0", Usage(1, 1, 1, 0), False, settlement_metadata("EUR", uri)
    )
    ed25519 = ed25519_public_to_multibase(generate_ed25519_key().public_key())
    document = actor.document(
        id=uri,
        type="Application",
        inbox=f"{uri}/inbox",
        url=None,
        outbox=None,
        followers=None,
        publicKey={"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": actor.keys.public_pem},
        assertionMethod=[
            {
                "id": f"{uri}#ed25519-key",
                "type": "Multikey",
                "controller": uri,
                "publicKeyMultibase": ed25519,
            }
        ],
    )
    document.update(changes)
    site.documents["/actor"] = document
    return site


async def _propose(alpha: Starlette, network: Network) -> tuple[int, str]:
    await make_account(alpha, "operator", admin=True)
    async with network.client("alpha.test") as http:
        await log_in(http, "operator")
        token = csrf_from((await http.get("/admin/peers")).text)
        response = await http.post(
            "/admin/peers/propose",
            data={"domain": PEER, "csrf_token": token},
            follow_redirects=True,
        )
    return response.status_code, response.text


async def _peers(alpha: Starlette) -> list[str]:
    async with context(alpha).db.session() as session:
        return list((await session.exec(select(Peer.domain))).all())


ELSEWHERE: dict[str, tuple[dict[str, Any], str]] = {
    "an inbox elsewhere": ({"inbox": "http://victim.example/inbox"}, "inbox on another origin"),
    "a key elsewhere": (
        {
            "assertionMethod": [
                {
                    "id": "http://evil.example/keys/1",
                    "type": "Multikey",
                    "controller": f"http://{PEER}/actor",
                    "publicKeyMultibase": ed25519_public_to_multibase(
                        generate_ed25519_key().public_key()
                    ),
                }
            ]
        },
        "publishes no Ed25519 assertionMethod key",
    ),
}


@pytest.mark.parametrize("case", list(ELSEWHERE))
async def test_a_peer_actor_with_its_inbox_or_key_elsewhere_is_refused(
    alpha: Starlette, network: Network, case: str
) -> None:
    changes, message = ELSEWHERE[case]
    _settling_site(network, **changes)
    status, page = await _propose(alpha, network)
    assert status == 422
    assert message in page
    assert await _peers(alpha) == []


async def test_a_peer_actor_on_its_own_origin_is_proposed_to(
    alpha: Starlette, network: Network
) -> None:
    _settling_site(network)
    status, page = await _propose(alpha, network)
    assert status == 200
    assert f"Proposed settling with {PEER}" in page
    assert await _peers(alpha) == [PEER]
