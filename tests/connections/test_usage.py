"""Each network's polls counted per day, the instance-wide budget X spends from, and the
admin's networks page that shows both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from bridges.x import XNetwork
from bridges.youtube import QUOTA, YoutubeNetwork
from server.connections.networks import Networks
from server.connections.polling import poll_once
from server.connections.usage import DatabaseBudget, spent
from server.context import context
from server.db.engine import Database
from server.models import BridgeUsage, ConnectedAccount
from server.models.base import utcnow
from server.settings import Settings
from tests.connections.conftest import Donor
from tests.connections.test_fediverse import connected, connection
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.databases import DatabaseFactory
from tests.support.fakes.bluesky import FakeBluesky
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.fakes.server import serve
from tests.support.fakes.x import FakeX
from tests.support.network import Network, bluesky_table, oauth_table, settings_with_bridges


@pytest.fixture
def x() -> Iterator[FakeX]:
    fake = FakeX()
    with serve(fake):
        yield fake


@pytest.fixture
def alpha_settings(
    tmp_path: Path, databases: DatabaseFactory, bluesky: FakeBluesky, x: FakeX
) -> Settings:
    """alpha.test with Bluesky and X at their fakes, X with a budget of 2 requests a month."""
    tables = {
        "bluesky": bluesky_table(bluesky.base),
        "x": oauth_table(f"http://{x.host}", monthly_requests=2),
    }
    return settings_with_bridges(tmp_path, "alpha.test", databases, tables)


async def _connect_x(donor: Donor) -> httpx.Response:
    """The Connect button, X's sign-in (the fake approves at once), back to the callback."""
    page = await donor.web.get("/settings/connections")
    answer = await donor.web.post(
        "/settings/connections/connect",
        data={"network": "x", "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 303, answer.text
    async with httpx.AsyncClient() as browser:
        authorized = await browser.get(answer.headers["location"])
    back = urlsplit(authorized.headers["location"])
    return await donor.web.get(f"{back.path}?{back.query}")


def _next_month(now: datetime) -> datetime:
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


async def _usage(donor: Donor) -> list[BridgeUsage]:
    async with donor.db.session() as session:
        return list((await session.exec(select(BridgeUsage))).all())


async def _due(donor: Donor) -> None:
    async with donor.db.transaction() as session:
        for row in (await session.exec(select(ConnectedAccount))).all():
            row.next_poll_at = utcnow() - timedelta(seconds=1)
            session.add(row)


async def test_every_poll_is_counted_once_for_its_network_and_day(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    await connected(donor, fake)
    fake.favourite("donor")
    await donor.poll()
    fake.knobs.fail_5xx = 1
    await donor.poll()
    fake.knobs.rate_limit = 1  # spent already in this window: 429s from now on
    await donor.poll()
    await donor.poll()
    [row] = await _usage(donor)
    assert (row.network, row.day) == ("fediverse", utcnow().date())
    assert (row.polls, row.requests, row.errors, row.rate_limited) == (5, 5, 1, 2)
    assert fake.rate_limited == 2


async def test_a_spent_budget_stops_polling_until_next_month_and_says_so(
    donor: Donor, x: FakeX, instance: Starlette, network: Network
) -> None:
    # Given X with the admin's budget of 2 requests a month: connecting reads the account (1),
    # the first round a page of likes (2)
    assert (await _connect_x(donor)).status_code == 303
    app = context(donor.app)
    await app.worker.drain()
    assert await spent(app.db, "x", datetime.now(UTC).strftime("%Y-%m")) == 2
    x.like("donor")
    asked = x.requests
    # When the next poll is due
    await _due(donor)
    networks = Networks(app.settings, app.http, db=app.db)
    report = await poll_once(app.db, app.settings, networks, (await connection(donor.db)).id or 0)
    # Then X was not called, and polls wait for the first moment of next month
    assert x.requests == asked
    following = _next_month(utcnow())
    row = await connection(donor.db)
    assert row.next_poll_at is not None
    assert abs((row.next_poll_at - following).total_seconds()) < 5
    assert row.failures == 0  # waiting for the budget is no failure
    # The donor's line says why and when checks resume; the admin sees the budget spent
    said = f"X request budget for the month is spent; checks resume on {following:%Y-%m-%d}"
    assert said in report.error
    assert said in " ".join((await donor.web.get("/settings/connections")).text.split())
    await make_account(instance, "ada", admin=True)
    async with network.client("alpha.test") as web:
        assert (await log_in(web, "ada")).status_code == 303
        page = " ".join((await web.get("/admin/networks")).text.split())
    shown = page.split('data-network="x"')[1].split("</li>")[0]
    assert "Requests this month: 2 of 2" in shown and "Spent: polls of this network wait" in shown
    # bridge_usage reports the refused poll as a wait that asked nothing
    [usage] = [row for row in await _usage(donor) if row.network == "x"]
    assert (usage.requests, usage.rate_limited) == (1, 1)


async def test_the_admin_sees_each_networks_accounts_polls_and_budget(
    donor: Donor, fake: FakeMastodonApi, instance: Starlette, network: Network
) -> None:
    await connected(donor, fake)
    fake.knobs.fail_5xx = 1
    await donor.poll()
    await make_account(instance, "ada", admin=True)
    async with network.client("alpha.test") as web:
        assert (await log_in(web, "ada")).status_code == 303
        page = await web.get("/admin/networks")
    assert page.status_code == 200, page.text
    text = " ".join(page.text.split())
    assert 'data-network="fediverse"' in text and 'data-network="bluesky"' in text
    fediverse = text.split('data-network="fediverse"')[1].split("</li>")[0]
    assert "1 connected" in fediverse
    assert "2 polls" in fediverse and "1 errors" in fediverse and "0 rate-limit waits" in fediverse
    # A donor is not an admin
    assert (await donor.web.get("/admin/networks")).status_code in (403, 404)


async def test_the_connect_page_sends_instagram_and_facebook_likes_to_the_importer(
    donor: Donor,
) -> None:
    page = await donor.web.get("/settings/connections")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "Instagram and Facebook" in text and 'href="/settings/imports"' in text
    # The fediverse asks for the donor's handle (a server to find); Bluesky too
    assert 'id="handle-fediverse"' in text and 'id="handle-bluesky"' in text


async def test_a_database_budget_gives_out_its_limit_once_per_period(db: Database) -> None:
    budget = DatabaseBudget(db, "x", 3)
    assert await budget.spend("2026-12", 2)
    assert not await budget.spend("2026-12", 2)  # would go over: nothing taken
    assert await budget.spend("2026-12", 1)
    assert not await budget.spend("2026-12", 1)
    assert await budget.spend("2027-01", 3)  # a new period starts from nothing
    assert await spent(db, "x", "2026-12") == 3
    assert await spent(db, "youtube", "2026-12") == 0  # each network its own


async def test_workers_spending_at_once_never_overdraw_the_budget(db: Database) -> None:
    budget = DatabaseBudget(db, "youtube", 5)
    taken = await asyncio.gather(*(budget.spend("2026-12-07", 1) for _ in range(12)))
    assert taken.count(True) == 5
    assert await spent(db, "youtube", "2026-12-07") == 5


async def test_networks_hand_x_and_youtube_the_instances_budget(
    settings: Settings, db: Database
) -> None:
    tables = {
        "x": {"client_id": "i", "client_secret": "s", "monthly_requests": 7},
        "youtube": {"client_id": "i", "client_secret": "s"},
        "vimeo": {"client_id": "i", "client_secret": "s"},
    }
    configured = settings.replace(extra={"bridges": tables})
    async with httpx.AsyncClient() as http:
        networks = Networks(configured, http, db=db)
        x, youtube = networks.get("x"), networks.get("youtube")
        assert isinstance(x, XNetwork) and isinstance(youtube, YoutubeNetwork)
        assert x.budget == DatabaseBudget(db, "x", 7)
        assert youtube.quota == DatabaseBudget(db, "youtube", 10_000)
        shown = networks.on_offer()
        assert (shown["x"].budget, shown["x"].budget_label) == (7, "Requests this month")
        assert (shown["youtube"].budget, shown["youtube"].budget_label) == (
            10_000,
            "Quota units today (Pacific time)",
        )
        assert shown["youtube"].budget_period == QUOTA.period.key()
        assert shown["vimeo"].budget == 0
        # without a database (a library user, a test), nothing is counted
        unbudgeted = Networks(configured, http).get("x")
        assert isinstance(unbudgeted, XNetwork)
        assert not isinstance(unbudgeted.budget, DatabaseBudget)
