"""The donor's connected Mastodon actor is the donor too: its Like arriving at our inbox is
a click at once, the poll seeing the same favourite later counts nothing more, and its Undo
takes the click back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlmodel import col, select

from server.models import BridgeLike, BridgeLikeOutcome, Click
from tests.connections.conftest import Donor
from tests.connections.test_fediverse import connected
from tests.support.fakes.mastodon_api import FakeMastodonApi, Status
from tests.support.fakes.server import serve
from tests.support.inbox import deliver, post_note
from tests.support.network import Network
from tests.support.remote import RemoteActor


@dataclass
class LinkedMastodonApi(FakeMastodonApi):
    """The fake Mastodon API, where the donor's account is `bob` of the in-process
    mastodon.test (whose actor signs activities), and chosen statuses have given URIs."""

    actors: dict[str, str] = field(default_factory=dict)  # username -> actor URI
    uris: dict[int, str] = field(default_factory=dict)  # status id -> its URI

    def actor_uri(self, acct: str) -> str:
        return self.actors.get(acct) or super().actor_uri(acct)

    def status_uri(self, status: Status) -> str:
        return self.uris.get(status.id) or super().status_uri(status)


@pytest.fixture
def linked(mastodon: RemoteActor) -> Iterator[LinkedMastodonApi]:
    mastodon.publish()
    api = LinkedMastodonApi(actors={"donor": mastodon.uri})
    with serve(api):
        yield api


async def test_the_linked_actors_like_counts_once_even_when_the_poll_sees_it(
    donor: Donor, linked: LinkedMastodonApi, mastodon: RemoteActor, network: Network
) -> None:
    # Given the donor connected the Mastodon account whose actor is bob
    row = await connected(donor, linked)
    assert row.external_id == mastodon.uri
    note = await post_note(donor.app, network, "carol")
    # When bob's Like of carol's post reaches our inbox
    like = mastodon.like(note["uri"])
    await deliver(donor.app, network, mastodon, like)
    # Then it is the donor's click at once
    async with donor.db.session() as session:
        clicks = (await session.exec(select(Click))).all()
    assert [(c.donor_id, c.source, c.source_ref) for c in clicks] == [
        (donor.account_id, "activitypub", like["id"])
    ]
    # When the poll sees the same favourite on the Mastodon server
    made = linked.favourite("donor", author="carol@alpha.test")
    linked.uris[int(made["status_id"])] = note["uri"]
    await donor.poll()
    # Then nothing more is counted, and the page says why
    async with donor.db.session() as session:
        clicks = (await session.exec(select(Click))).all()
        seen = (await session.exec(select(BridgeLike).order_by(col(BridgeLike.id)))).all()
    assert len(clicks) == 1
    assert [(s.item_url, s.outcome) for s in seen] == [
        (note["uri"], BridgeLikeOutcome.already_counted)
    ]
    # And bob's Undo takes the click back
    await deliver(donor.app, network, mastodon, mastodon.undo(like))
    async with donor.db.session() as session:
        assert (await session.exec(select(Click))).all() == []


async def test_a_like_of_an_actor_not_linked_is_no_click(
    donor: Donor, mastodon: RemoteActor, network: Network
) -> None:
    mastodon.publish()
    note = await post_note(donor.app, network, "carol")
    await deliver(donor.app, network, mastodon, mastodon.like(note["uri"]))
    async with donor.db.session() as session:
        assert (await session.exec(select(Click))).all() == []
