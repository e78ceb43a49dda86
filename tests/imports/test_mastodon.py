"""A Mastodon archive's favourites are status URIs without authors: the job fetches each over
ActivityPub (signed, as any fetch) and takes the author the status's own server names; a
status that is gone, or whose author lives elsewhere, waits unresolved. Undated likes of a
first import are older ones; a later import's new ones count."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from server.context import context
from server.models import Identity, Thing
from tests.imports.support import Donor
from tests.support.accounts import log_in, make_account
from tests.support.network import Network
from tests.support.remote import RemoteServer

HOST = "https://mastodon.test"
AUTHOR = f"{HOST}/users/bob"


def _status(server: RemoteServer, number: int, author: str = AUTHOR) -> str:
    uri = f"{HOST}/users/bob/statuses/{number}"
    server.documents[f"/users/bob/statuses/{number}"] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": uri,
        "type": "Note",
        "attributedTo": author,
        "content": f"<p>post {number}</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    return uri


def _archive(uris: list[str]) -> bytes:
    return json.dumps(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "likes.json",
            "type": "OrderedCollection",
            "orderedItems": uris,
        }
    ).encode()


@pytest.fixture
async def donor(alpha: Starlette, network: Network) -> AsyncIterator[Donor]:
    account = await make_account(alpha, "dora")
    async with network.client("alpha.test") as web:
        assert (await log_in(web, "dora")).status_code == 303
        yield Donor(alpha, web, account.id or 0)


async def test_statuses_are_resolved_to_their_authors_on_their_own_server(
    donor: Donor, network: Network
) -> None:
    server = RemoteServer("mastodon.test").join(network)
    good = _status(server, 1)
    forged = _status(server, 2, author="https://elsewhere.test/users/mallory")
    missing = f"{HOST}/users/bob/statuses/404"
    # A first import: one status resolved, two unresolved; no time, so nothing counts
    first = await donor.imported("likes.json", _archive([good, forged, missing]), "mastodon")
    batch = await donor.batch(first)
    assert (batch.network, batch.found, batch.unresolved, batch.older) == ("mastodon", 3, 2, 1)
    assert (batch.in_period, batch.creators) == (0, 1)
    page = (await donor.web.get(f"/settings/imports/{first}")).text
    assert "Waiting for their creator" in page
    assert (await donor.post(first, "confirm")).status_code == 303
    assert await donor.clicks() == []
    # A later export holds one more favourite: it is new since the last import, and counts
    newer = _status(server, 3)
    second = await donor.imported("likes.json", _archive([newer, good, forged]), "mastodon")
    batch = await donor.batch(second)
    assert (batch.found, batch.duplicates, batch.in_period) == (3, 2, 1)
    assert (await donor.post(second, "confirm")).status_code == 303
    clicks = await donor.clicks()
    assert [(c.source, c.source_ref) for c in clicks] == [("import:mastodon", newer)]
    async with context(donor.app).db.session() as session:
        thing = await session.get_one(Thing, clicks[0].thing_id)
        identity = await session.get_one(Identity, thing.identity_id)
    assert (identity.network, identity.external_id) == ("fediverse", AUTHOR)
