"""LIKEWISE_UNSPENT_TO: the budget of a donor who liked nothing in a month goes, after the
fee, to the account the admin named (a charity's), as classic Flattr did."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.donations.budget import update_donor_settings
from server.donations.close import close_period
from server.donations.summary import creator_summary, donor_summary
from server.models import DonorPeriod, LedgerKind
from server.money.funding import Funding, credit_wallet
from server.money.ledger import Owner
from server.settings import Settings
from tests.support.accounts import log_in, make_account, make_token
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    like,
    transfers,
    wallet,
    web_thing,
)

OCT = datetime(2026, 10, 10, tzinfo=UTC)
FEES = Owner(LedgerKind.instance_fees)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(unspent_to="@Charity", fee_bps=1000)


async def test_a_month_without_likes_gives_the_budget_to_the_named_account(
    db: Database, settings: Settings
) -> None:
    # Given the charity (with money of its own and no likes), a donor who liked nothing,
    # one who liked a page, one who paused and one with an empty wallet
    charity = await donor(db, settings, "charity", funds=700)
    ann = await donor(db, settings, "ann", funds=1000, budget=500)
    bob = await donor(db, settings, "bob", funds=300, budget=500)
    cid = await donor(db, settings, "cid", funds=800, budget=500)
    await donor(db, settings, "dee", budget=500)
    async with db.transaction() as session:
        await update_donor_settings(session, settings, cid, paused=True)
    await like(db, settings, bob, web_thing("https://blog.example/a"), at=OCT)
    # When October closes, twice
    await close_period(db, settings, "2026-10")
    first = await transfers(db)
    await close_period(db, settings, "2026-10")
    # Then ann gave 500: 50 fee, 450 to the charity; bob's 300 went to his like
    assert await balance(db, settings, wallet(ann)) == 500
    assert await balance(db, settings, available(charity)) == 450
    assert await balance(db, settings, wallet(bob)) == 0
    assert await balance(db, settings, FEES) == 50 + 30
    # and the paused donor, the charity itself and the empty wallet kept theirs
    assert await balance(db, settings, wallet(cid)) == 800
    assert await balance(db, settings, wallet(charity)) == 700
    given = [row for row in first if row[4] == "close_unspent"]
    assert [(row[1], row[2], row[3]) for row in given] == [
        (f"donor_reserve:{ann}", f"creator_available:{charity}", 450)
    ]
    assert await transfers(db) == first  # the rerun posted nothing
    async with db.session() as session:
        records = await session.exec(
            select(DonorPeriod.donor_id, DonorPeriod.budget, DonorPeriod.fee, DonorPeriod.clicks)
            .where(DonorPeriod.period == "2026-10")
            .order_by(DonorPeriod.donor_id)  # type: ignore[arg-type]
        )
        assert [tuple(r) for r in records.all()] == [
            (ann, 500, 50, 0),
            (bob, 300, 30, 1),
            (cid, 0, 0, 0),
        ]
        # The charity sees ann among its supporters
        summary = await creator_summary(session, settings, charity)
        assert [(s.name, s.amount) for s in summary.supporters] == [("@ann", 450)]
    await assert_books_balance(db)


async def test_without_the_setting_the_budget_stays_in_the_wallet(
    db: Database, settings: Settings
) -> None:
    plain = settings.replace(unspent_to="")
    await donor(db, plain, "charity")
    ann = await donor(db, plain, "ann", funds=1000, budget=500)
    await close_period(db, plain, "2026-10")
    assert await balance(db, plain, wallet(ann)) == 1000
    assert [row for row in await transfers(db) if row[4].startswith("close")] == []
    await assert_books_balance(db)


async def test_a_setting_naming_no_account_stops_the_close_before_anything_moves(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann", funds=1000, budget=500)
    with pytest.raises(ValidationFailed, match="LIKEWISE_UNSPENT_TO"):
        await close_period(db, settings, "2026-10")
    assert await balance(db, settings, wallet(ann)) == 1000
    assert [row for row in await transfers(db) if row[4].startswith("close")] == []
    # Once the account exists, the same close goes through
    charity = await donor(db, settings, "charity")
    await close_period(db, settings, "2026-10")
    assert await balance(db, settings, available(charity)) == 450
    await assert_books_balance(db)


async def test_the_donor_page_says_where_a_month_without_likes_goes(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_account(app, "charity")
    ann = await make_account(app, "ann")
    async with context(app).db.transaction() as session:
        await credit_wallet(session, settings, Funding(int(ann.id or 0), 1000, "seed"))
        summary = await donor_summary(session, settings, int(ann.id or 0))
    assert (summary.spendable, summary.fee, summary.unspent_to) == (500, 50, "charity")
    assert (await log_in(client, "ann")).status_code == 303
    page = (await client.get("/money")).text
    assert "5.00 EUR given to @charity, of which 0.50 EUR instance fee" in page
    assert 'gives the budget of a month without likes to <a href="/@charity">@charity</a>' in page


async def test_the_api_says_where_a_month_without_likes_goes(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_account(app, "charity")
    ann = await make_account(app, "ann")
    token = await make_token(app, ann, "read write")
    async with context(app).db.transaction() as session:
        await credit_wallet(session, settings, Funding(int(ann.id or 0), 1000, "seed"))
    headers = {"Authorization": f"Bearer {token}"}
    period = (await client.get("/api/v1/likewise/me", headers=headers)).json()["period"]
    assert period["unspent_to"] == "charity"
    assert period["projected_spend"] == {"value": "500", "currency": "EUR", "scale": 2}
    # Once the donor likes something, the budget is shared among the likes instead
    liked = await client.post(
        "/api/v1/likewise/likes", json={"uri": "https://blog.example/a"}, headers=headers
    )
    assert liked.status_code in (200, 201), liked.text
    period = (await client.get("/api/v1/likewise/me", headers=headers)).json()["period"]
    assert (period["unspent_to"], period["clicks"]) == (None, 1)
