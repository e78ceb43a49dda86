"""A donor connects a Mastodon account elsewhere through the pages (the fake Mastodon API on
a loopback port, over real HTTP); the favourites given there become clicks when polled."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, update
from sqlmodel import col, select
from starlette.applications import Starlette

from server.connections.networks import Networks
from server.connections.polling import poll_once
from server.context import context
from server.db.engine import Database
from server.donations.close import close_period
from server.models import (
    BridgeLike,
    BridgeLikeOutcome,
    Click,
    ConnectedAccount,
    ConnectionState,
    Identity,
)
from server.models.base import utcnow
from tests.connections.conftest import Donor
from tests.support.accounts import csrf_from
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.ledger import assert_books_balance, available, balance, fediverse_thing, like
from tests.support.ledger import donor as ledger_donor
from tests.support.network import Network


async def connect(donor: Donor, fake: FakeMastodonApi) -> httpx.Response:
    """Through the pages: the form, the fake's authorization page, back to the callback."""
    page = await donor.web.get("/settings/connections")
    assert page.status_code == 200
    answer = await donor.web.post(
        "/settings/connections/connect",
        data={
            "network": "fediverse",
            "handle": f"@donor@{fake.host}",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert answer.status_code == 303, answer.text
    async with httpx.AsyncClient() as browser:
        authorized = await browser.get(answer.headers["location"])
    assert authorized.status_code in (302, 307), authorized.text
    back = urlsplit(authorized.headers["location"])
    assert back.netloc == "alpha.test"
    return await donor.web.get(f"{back.path}?{back.query}")


async def connected(donor: Donor, fake: FakeMastodonApi) -> ConnectedAccount:
    """Connected, and the first round (which only takes note of what is there) done."""
    answer = await connect(donor, fake)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/settings/connections"
    await context(donor.app).worker.drain()
    return await connection(donor.db)


async def connection(db: Database) -> ConnectedAccount:
    async with db.session() as session:
        return (await session.exec(select(ConnectedAccount))).one()


async def clicks(db: Database) -> list[Click]:
    async with db.session() as session:
        return list((await session.exec(select(Click).order_by(col(Click.id)))).all())


async def likes(db: Database) -> list[BridgeLike]:
    async with db.session() as session:
        return list((await session.exec(select(BridgeLike).order_by(col(BridgeLike.id)))).all())


async def test_favourites_become_clicks_after_a_poll(donor: Donor, fake: FakeMastodonApi) -> None:
    # Given a connected account
    row = await connected(donor, fake)
    assert row.state == ConnectionState.active and row.last_checked_at is not None
    assert row.external_id == f"http://{fake.host}/users/donor"
    token = next(iter(fake.tokens))
    assert token not in row.credentials and row.credentials.startswith("v1.")
    # When two statuses are favourited there and the account is polled
    first, second = fake.favourite("donor"), fake.favourite("donor")
    await donor.poll()
    # Then each is a click from the bridge, on the status's ActivityPub id
    made = await clicks(donor.db)
    assert [(c.source, c.source_ref) for c in made] == [
        ("bridge:fediverse", second["status_id"]),
        ("bridge:fediverse", first["status_id"]),
    ]
    assert {like.item_url for like in await likes(donor.db)} == {first["uri"], second["uri"]}
    page = await donor.web.get("/settings/connections")
    assert "Last checked just now, 2 likes this month" in page.text
    assert "<script>" not in page.text.split("Recent likes")[1]


async def test_a_repoll_a_restart_and_two_workers_make_no_duplicate(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    row = await connected(donor, fake)
    for _ in range(3):
        fake.favourite("donor")
    await donor.poll()
    assert len(await clicks(donor.db)) == 3
    # A re-poll
    await donor.poll()
    # A restart: a new database connection pool and worker read where the last left off
    settings = context(donor.app).settings
    fresh = Database(settings.database_url)
    networks = Networks(settings, context(donor.app).http)
    try:
        async with fresh.transaction() as session:
            await session.exec(update(ConnectedAccount).values(next_poll_at=utcnow()))
        await poll_once(fresh, settings, networks, row.id or 0)
        # Two workers at once, with a new like waiting
        fake.favourite("donor")
        async with fresh.transaction() as session:
            await session.exec(update(ConnectedAccount).values(next_poll_at=utcnow()))
        other = Database(settings.database_url)
        try:
            reports = await asyncio.gather(
                poll_once(fresh, settings, networks, row.id or 0),
                poll_once(other, settings, networks, row.id or 0),
            )
        finally:
            await other.dispose()
    finally:
        await fresh.dispose()
    assert sorted(report.ran for report in reports) == [False, True]
    assert len(await clicks(donor.db)) == 4
    assert len(await likes(donor.db)) == 4


async def test_favourites_from_before_connecting_are_shown_not_charged(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    # Given a favourite given before the account was connected
    old = fake.favourite("donor")
    await connected(donor, fake)
    fake.favourite("donor")
    await donor.poll()
    seen = {like.item_url: like.outcome for like in await likes(donor.db)}
    assert seen[old["uri"]] == BridgeLikeOutcome.before_period
    assert len(await clicks(donor.db)) == 1
    page = await donor.web.get("/settings/connections")
    assert "not charged" in page.text


async def test_a_favourite_taken_back_before_the_close_is_unclicked(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    await connected(donor, fake)
    kept, taken_back = fake.favourite("donor"), fake.favourite("donor")
    await donor.poll()
    assert len(await clicks(donor.db)) == 2
    fake.unfavourite("donor", int(taken_back["status_id"]))
    await donor.poll()
    assert [c.source_ref for c in await clicks(donor.db)] == [kept["status_id"]]
    outcomes = {like.item_url: like.outcome for like in await likes(donor.db)}
    assert outcomes[taken_back["uri"]] == BridgeLikeOutcome.unclicked
    assert "taken back" in (await donor.web.get("/settings/connections")).text
    # Favourited again (the fake's control API has no call for an existing status): it
    # counts again
    with fake._lock:
        fake.favourites["donor"][fake._new_id()] = int(taken_back["status_id"])
    await donor.poll()
    assert len(await clicks(donor.db)) == 2
    outcomes = {like.item_url: like.outcome for like in await likes(donor.db)}
    assert outcomes[taken_back["uri"]] == BridgeLikeOutcome.counted


async def test_a_429_postpones_the_next_poll_as_the_network_says(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    await connected(donor, fake)
    fake.favourite("donor")
    fake.knobs.rate_limit = 0  # every request is over the limit
    await donor.poll()
    row = await connection(donor.db)
    assert row.next_poll_at is not None
    wait = row.next_poll_at - utcnow()
    assert timedelta(minutes=4) < wait <= timedelta(minutes=5, seconds=2)
    assert row.state == ConnectionState.active and await clicks(donor.db) == []
    assert "asked us to slow down" in (await donor.web.get("/settings/connections")).text
    # And the worker does not poll again before then
    assert await donor.poll_without_moving_the_clock() == 0


async def test_a_revoked_token_asks_the_donor_to_sign_in_again(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    await connected(donor, fake)
    fake.favourite("donor")
    fake.set_tokens("donor", "revoked")
    await donor.poll()
    row = await connection(donor.db)
    assert row.state == ConnectionState.needs_reauth and row.next_poll_at is None
    page = await donor.web.get("/settings/connections")
    assert "asked you to sign in again" in page.text and "Sign in again" in page.text
    assert await clicks(donor.db) == []


async def test_an_expired_token_is_refreshed_and_the_poll_goes_on(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    fake.knobs.refresh_tokens = True
    before = (await connected(donor, fake)).credentials
    fake.favourite("donor")
    fake.set_tokens("donor", "expired")
    await donor.poll()
    row = await connection(donor.db)
    assert row.state == ConnectionState.active and row.last_error == ""
    assert row.credentials != before
    assert len(await clicks(donor.db)) == 1


@pytest.mark.parametrize(
    ("knob", "counted"),
    [
        ("missing_author", 0),
        ("path_trick", 0),
        ("malformed_json", 0),
        ("too_many", 0),
        ("oversized", 0),
        # The first page is sound (its likes count once); the page it leads to is itself.
        ("link_loop", 2),
    ],
)
async def test_hostile_pages_give_a_status_line_and_no_click(
    donor: Donor, fake: FakeMastodonApi, knob: str, counted: int
) -> None:
    await connected(donor, fake)
    fake.favourite("donor")
    fake.favourite("donor")
    setattr(fake.knobs, knob, True)
    await donor.poll()
    row = await connection(donor.db)
    assert row.last_error.startswith("Mastodon and other fediverse servers sent something")
    assert len(await clicks(donor.db)) == counted
    assert row.failures == 1 and row.cursor == ""
    page = await donor.web.get("/settings/connections")
    assert page.status_code == 200 and "sent something we could not use" in page.text
    # Polled again, still hostile: the same error, nothing more counted
    await donor.poll()
    assert (await connection(donor.db)).failures == 2
    assert len(await clicks(donor.db)) == counted


async def test_pause_resume_and_disconnect(donor: Donor, fake: FakeMastodonApi) -> None:
    row = await connected(donor, fake)
    page = await donor.web.get("/settings/connections")
    paused = await donor.web.post(
        f"/settings/connections/{row.id}/pause", data={"csrf_token": csrf_from(page.text)}
    )
    assert paused.status_code == 303
    fake.favourite("donor")
    await donor.poll()
    assert await clicks(donor.db) == []
    page = await donor.web.get("/settings/connections")
    assert "Paused: likes given there do not count" in page.text
    resumed = await donor.web.post(
        f"/settings/connections/{row.id}/resume", data={"csrf_token": csrf_from(page.text)}
    )
    assert resumed.status_code == 303
    assert (await connection(donor.db)).state == ConnectionState.active
    gone = await donor.web.post(
        f"/settings/connections/{row.id}/disconnect", data={"csrf_token": csrf_from(page.text)}
    )
    assert gone.status_code == 303
    row = await connection(donor.db)
    assert row.state == ConnectionState.revoked and row.credentials == ""
    # A form without its CSRF token is refused
    refused = await donor.web.post(f"/settings/connections/{row.id}/pause", data={})
    assert refused.status_code == 403


async def test_a_callback_with_a_wrong_state_connects_nothing(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    answer = await donor.web.get("/settings/connections/fediverse/callback?code=x&state=forged")
    assert answer.status_code == 404
    assert "start it again" in answer.text
    async with donor.db.session() as session:
        count = (await session.exec(select(func.count()).select_from(ConnectedAccount))).one()
    assert count == 0


async def test_a_handle_that_names_no_server_is_refused_on_the_page(donor: Donor) -> None:
    page = await donor.web.get("/settings/connections")
    answer = await donor.web.post(
        "/settings/connections/connect",
        data={"network": "fediverse", "handle": "not a handle", "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 422
    assert "Connected accounts" in answer.text


async def test_liking_ones_own_posts_there_is_no_click(donor: Donor, fake: FakeMastodonApi) -> None:
    await connected(donor, fake)
    own = fake.favourite("donor", author="donor")
    await donor.poll()
    assert await clicks(donor.db) == []
    assert [(like.item_url, like.outcome) for like in await likes(donor.db)] == [
        (own["uri"], BridgeLikeOutcome.self_like)
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/settings/connections/connect"),
        ("GET", "/settings/connections/nowhere/callback?state=x&code=y"),
        ("GET", "/settings/connections/nowhere/proof?state=x"),
        ("POST", "/settings/connections/nowhere/callback"),
        ("POST", "/settings/connections/999/pause"),
    ],
)
async def test_unknown_networks_and_accounts_are_clear_refusals(
    donor: Donor, method: str, path: str
) -> None:
    page = await donor.web.get("/settings/connections")
    data = {"network": "nowhere", "handle": "x", "csrf_token": csrf_from(page.text)}
    answer = await donor.web.request(method, path, data=data if method == "POST" else None)
    assert answer.status_code == 404, answer.text


async def test_a_callback_reached_logged_out_comes_back_after_the_log_in(
    instance: Starlette, network: Network
) -> None:
    async with network.client("alpha.test") as web:
        answer = await web.get("/settings/connections/fediverse/callback?code=c&state=s")
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        "/login?next=%2Fsettings%2Fconnections%2Ffediverse%2Fcallback%3Fcode%3Dc%26state%3Ds"
    )


async def test_connecting_claims_what_supporters_set_aside_for_the_account(
    donor: Donor, fake: FakeMastodonApi
) -> None:
    # Given ann, who liked a post of the Mastodon account dora is about to connect, and
    # a closed month: her 3.00 EUR wait in escrow for that account
    app = context(donor.app)
    ann = await ledger_donor(app.db, app.settings, "ann", funds=1000, budget=300)
    mine = fake.actor_uri("donor")
    await like(app.db, app.settings, ann, fediverse_thing(f"{mine}/statuses/1", mine))
    async with app.db.session() as session:
        period = (await session.exec(select(Click.period))).one()
    await close_period(app.db, app.settings, period, force=True)
    assert await balance(app.db, app.settings, available(donor.account_id)) == 0
    # When dora connects it: the sign-in there proves the account is hers
    await connected(donor, fake)
    # Then the identity is hers and what waited is in her available balance
    async with app.db.session() as session:
        identity = (await session.exec(select(Identity).where(Identity.external_id == mine))).one()
    assert identity.claimed_account_id == donor.account_id
    assert await balance(app.db, app.settings, available(donor.account_id)) == 300
    await assert_books_balance(app.db)
