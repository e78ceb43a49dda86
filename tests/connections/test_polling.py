"""How polls are paced: a long round spreads its pages over the rate-limit window, a server
that does not answer is tried again later and later, a network the admin no longer offers
is hidden and its accounts say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bridges import fediverse
from bridges.base import RateInfo
from server.connections.networks import Networks
from server.connections.pages import ago, connections_page
from server.connections.polling import poll_once, spacing
from server.context import context
from server.domain_errors import NotFound
from server.models import BridgeLike, BridgeLikeOutcome, Click, ConnectedAccount
from server.models.base import utcnow
from tests.connections.conftest import Donor
from tests.connections.test_fediverse import connect, connected, connection
from tests.support.fakes.mastodon_api import FakeMastodonApi

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_spacing_spreads_what_is_left_of_the_window_and_never_spends_the_last_request() -> None:
    reset = NOW + timedelta(seconds=100)
    assert spacing(None, NOW) == timedelta(0)
    assert spacing(RateInfo(300, 299, reset), NOW) == timedelta(0)  # plenty left
    assert spacing(RateInfo(300, 101, reset), NOW) == timedelta(seconds=1)
    assert spacing(RateInfo(300, 1, reset), NOW) == timedelta(seconds=101)  # wait the reset
    assert spacing(RateInfo(None, 0, reset), NOW) == timedelta(seconds=101)


async def test_a_long_round_waits_for_the_rate_limit_instead_of_spending_it(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    # Given a server allowing 4 requests in 5 minutes, and 90 favourites (3 pages)
    fake.knobs.rate_limit = 4
    for _ in range(90):
        fake.favourite("donor")
    assert (await connect(donor, fake)).status_code == 303
    await context(donor.app).worker.drain()
    # Then the round read one page and waits before the next one
    row = await connection(donor.db)
    assert row.round_pages == 1 and row.cursor != ""
    assert row.next_poll_at is not None and row.next_poll_at - utcnow() > timedelta(minutes=4)
    assert fake.rate_limited == 0 and fake.over_limit == 0


async def test_a_server_that_does_not_answer_is_tried_later_and_later(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    await connected(donor, fake)
    fake.favourite("donor")
    fake.knobs.fail_5xx = 2
    waits = []
    for _ in range(2):
        await donor.poll()
        row = await connection(donor.db)
        assert row.next_poll_at is not None
        waits.append(row.next_poll_at - utcnow())
        assert "did not answer" in row.last_error
    assert timedelta(seconds=50) < waits[0] <= timedelta(minutes=1)
    assert timedelta(minutes=1, seconds=50) < waits[1] <= timedelta(minutes=2)
    await donor.poll()
    row = await connection(donor.db)
    assert (row.failures, row.last_error) == (0, "")
    async with donor.db.session() as session:
        assert len((await session.exec(select(Click))).all()) == 1


async def test_a_network_no_longer_offered_is_hidden_and_its_accounts_say_so(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    row = await connected(donor, fake)
    app = context(donor.app)
    only_bluesky = Networks(
        app.settings, app.http, is_configured=lambda name, config: name == "bluesky"
    )
    page = await connections_page(app.db, only_bluesky, donor.account_id)
    assert [network.name for network in page.networks] == ["bluesky"]
    with pytest.raises(NotFound):
        only_bluesky.get("fediverse")
    async with app.db.transaction() as session:
        stored = await session.get(ConnectedAccount, row.id)
        assert stored is not None
        stored.next_poll_at = utcnow()
        session.add(stored)
    report = await poll_once(app.db, app.settings, only_bluesky, row.id or 0)
    assert report.ran and "not set up on this instance" in report.error
    page = await connections_page(app.db, only_bluesky, donor.account_id)
    assert "not set up on this instance" in page.connections[0].status


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (5, "just now"),
        (180, "3 min ago"),
        (3600, "1 hour ago"),
        (7300, "2 hours ago"),
        (86400 * 5, "5 days ago"),
    ],
)
def test_the_status_line_says_how_long_ago_in_words(seconds: int, said: str) -> None:
    assert ago(NOW - timedelta(seconds=seconds), NOW) == said


async def test_a_round_cut_short_by_the_page_bound_takes_nothing_back(
    donor: Donor, fake: FakeMastodonApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a network module that reads one page (40 favourites) a round
    monkeypatch.setattr(fediverse, "MAX_PAGES_PER_ROUND", 1)
    await connected(donor, fake)
    for _ in range(30):
        fake.favourite("donor")
    await donor.poll()
    assert len(await _counted(donor)) == 30
    # When 40 more are given: the next round reads only them, and stops at its bound
    for _ in range(40):
        fake.favourite("donor")
    await donor.poll()
    # Then the 30 it did not read again still count (it did not read the whole month)
    assert len(await _counted(donor)) == 70
    async with donor.db.session() as session:
        assert len((await session.exec(select(Click))).all()) == 70


async def _counted(donor: Donor) -> list[BridgeLike]:
    async with donor.db.session() as session:
        found = await session.exec(
            select(BridgeLike).where(BridgeLike.outcome == BridgeLikeOutcome.counted)
        )
        return list(found.all())
