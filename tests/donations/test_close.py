from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select

from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.donations.close import close_period
from server.models import Actor, EscrowLine, LedgerKind
from server.money.ledger import Owner
from server.money.split import equal_split, fee_of
from server.settings import Settings
from tests.support.databases import DatabaseFactory
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    fediverse_thing,
    like,
    transfers,
    wallet,
    web_thing,
)

OCT = datetime(2026, 10, 10, tzinfo=UTC)
FEES = Owner(LedgerKind.instance_fees)


async def _actor(db: Database, account_id: int) -> str:
    async with db.session() as session:
        return (await session.exec(select(Actor.uri).where(Actor.account_id == account_id))).one()


async def test_a_close_pays_local_creators_and_escrows_the_rest(
    db: Database, money_settings: Settings
) -> None:
    settings = money_settings  # 10 % fee
    # Given ann with 10.00 and a 5.00 budget who liked a local post, a remote note, a web page
    ann = await donor(db, settings, "ann", funds=1000, budget=500)
    cat = await donor(db, settings, "cat")
    idle = await donor(db, settings, "idle", funds=300)
    local = fediverse_thing(f"{settings.base_url}/notes/1", await _actor(db, cat))
    remote = fediverse_thing("https://m.example/notes/9", "https://m.example/users/zoe")
    for thing in (local, remote, web_thing("https://blog.example/a")):
        assert await like(db, settings, ann, thing, at=OCT) == "recorded"
    # When the month closes
    report = await close_period(db, settings, "2026-10")
    # Then the fee comes first, and 4.50 is split 1.50 each
    assert (report.stage, report.donors_done, report.spent, report.fees) == ("closed", 1, 500, 50)
    assert await balance(db, settings, wallet(ann)) == 500
    assert await balance(db, settings, available(cat)) == 150
    assert await balance(db, settings, FEES) == 50
    assert (
        await balance(db, settings, Owner(LedgerKind.escrow_peer, peer_domain="m.example")) == 150
    )
    assert await balance(db, settings, wallet(idle)) == 300  # no clicks: stays in the wallet
    async with db.session() as session:
        lines = (await session.exec(select(EscrowLine))).all()
    assert sorted((line.peer_domain, line.creator_uri, line.amount) for line in lines) == [
        ("", "", 150),
        ("m.example", "https://m.example/users/zoe", 150),
    ]
    await assert_books_balance(db)


async def _likes_three_pages(db: Database, settings: Settings, *, funds: int) -> int:
    """ann, with `funds` and a 5.00 budget, liked three web pages in October."""
    ann = await donor(db, settings, "ann", funds=funds, budget=500)
    for n in range(3):
        await like(db, settings, ann, web_thing(f"https://blog.example/{n}"), at=OCT)
    return ann


async def test_budget_is_capped_by_the_wallet_and_a_rerun_posts_nothing(
    db: Database, settings: Settings
) -> None:
    ann = await _likes_three_pages(db, settings, funds=7)
    await close_period(db, settings, "2026-10")
    first = await transfers(db)
    await close_period(db, settings, "2026-10")
    assert await transfers(db) == first
    shares = [row[3] for row in first if row[4] == "close_share"]
    assert shares == [3, 2, 2]
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


async def test_the_close_leaves_fresh_statistics_of_the_escrow_lines(
    db: Database, settings: Settings
) -> None:
    # Given likes of three web pages, never analyzed (PostgreSQL: reltuples -1; SQLite keeps
    # no statistics unless asked)
    await _likes_three_pages(db, settings, funds=1000)
    assert await _escrow_statistics(db) in (-1, None)
    # When the month closes
    await close_period(db, settings, "2026-10")
    # Then PostgreSQL has analyzed the three lines the close wrote (the settlement
    # preparation and the notices read them next); SQLite still keeps none
    assert await _escrow_statistics(db) == (None if db.is_sqlite else 3)


async def _escrow_statistics(db: Database) -> float | None:
    """PostgreSQL: the row count its planner assumes for escrow_line. SQLite: whether
    ANALYZE ever ran (its sqlite_stat1 table exists), as None or 1."""
    query = (
        "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        if db.is_sqlite
        else "SELECT reltuples FROM pg_class WHERE relname = 'escrow_line'"
    )
    async with db.session() as session:
        value = (await (await session.connection()).execute(text(query))).scalar_one()
    if db.is_sqlite:
        return None if value == 0 else 1
    return float(value)


async def test_the_running_month_needs_force(db: Database, settings: Settings) -> None:
    with pytest.raises(ValidationFailed, match="--force"):
        await close_period(db, settings, "2999-01")


@hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3000),  # funds
            st.integers(min_value=200, max_value=2000),  # budget
            st.lists(st.integers(min_value=0, max_value=6), max_size=6),  # liked things
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(min_value=0, max_value=10_000),
    st.booleans(),  # budgets of months without likes go to a charity's account
)
async def test_any_close_balances_the_books(
    databases: DatabaseFactory,
    settings: Settings,
    donors: list[tuple[int, int, list[int]]],
    fee_bps: int,
    unspent: bool,
) -> None:
    config = settings.replace(
        database_url=databases.migrated(), fee_bps=fee_bps, unspent_to="charity" if unspent else ""
    )
    db = Database(config.database_url)
    try:
        charity = await donor(db, config, "charity")
        expected: dict[str, list[int]] = {}
        given = 0
        for index, (funds, budget, things) in enumerate(donors):
            who = await donor(db, config, f"d{index}", funds=funds, budget=budget)
            for thing in things:
                await like(db, config, who, web_thing(f"https://blog.example/{thing}"), at=OCT)
            # Each donor's shares, in click order: the fee first, then an equal split
            # whose first (remainder) clicks get one unit more.
            spend = min(funds, budget) if things or unspent else 0
            split = equal_split(spend - fee_of(spend, fee_bps), len(set(things)) or 1)
            if things:
                expected[f"{who:010d}"] = [share for share in split if share]
            else:
                given += split[0]
        report = await close_period(db, config, "2026-10")
        assert report.stage == "closed"
        rows = await transfers(db)
        assert all(row[3] > 0 for row in rows)
        spent = sum(row[3] for row in rows if row[4] == "close_reserve")
        kinds = ("close_fee", "close_share", "close_unspent")
        assert spent == sum(row[3] for row in rows if row[4] in kinds)
        shares = sorted(
            (str(row[0]).split(":")[2], row[6], row[3]) for row in rows if row[4] == "close_share"
        )
        posted = {who: [amount for of, _, amount in shares if of == who] for who in expected}
        assert posted == expected
        assert await balance(db, config, available(charity)) == given
        await assert_books_balance(db)
    finally:
        await db.dispose()
