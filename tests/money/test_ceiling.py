"""The ledger's ceiling: no transfer moves, and no balance reaches (either sign), more than
AMOUNT_CEILING minor units. The ledger service refuses such a posting and its transaction
rolls back; the schema refuses such rows; the ledger check reports books that went past
it before (and never crashes on them)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.db.engine import Database
from server.db.migrations import alembic_config, upgrade
from server.domain_errors import Conflict
from server.models import LedgerKind, TransferKind
from server.money.audit import check_ledger
from server.money.ledger import (
    Owner,
    TransferSpec,
    ledger_account_ids,
    post_many,
    post_transfer,
)
from server.settings import Settings
from tests.support.databases import DatabaseFactory
from tests.support.ledger import assert_books_balance, balance, donor, wallet

WORLD = Owner(LedgerKind.outside_world)
FUNDING = TransferKind.funding
AMOUNT_CEILING = 10**15 - 1  # minor units: the documented ceiling (docs/settlement.md)
# The ledger's refusal (CeilingExceeded, a Conflict: 409 to a request)
PAST_THE_CEILING = "beyond 999999999999999 minor units"


async def _accounts(db: Database, settings: Settings, *owners: Owner) -> dict[Owner, int]:
    async with db.transaction() as session:
        return await ledger_account_ids(session, settings, owners)


async def test_a_posting_past_the_ceiling_is_refused_and_its_transaction_rolls_back(
    db: Database, settings: Settings
) -> None:
    ann, bob = await donor(db, settings, "ann"), await donor(db, settings, "bob")
    ids = await _accounts(db, settings, WORLD, wallet(ann), wallet(bob))
    # Given ann's wallet one minor unit below the ceiling
    async with db.transaction() as session:
        near = TransferSpec("near", ids[WORLD], ids[wallet(ann)], AMOUNT_CEILING - 1, FUNDING)
        await post_transfer(session, near)
    # When one transaction credits bob, then takes ann's wallet past the ceiling
    with pytest.raises(Conflict, match=PAST_THE_CEILING):
        async with db.transaction() as session:
            await post_transfer(
                session, TransferSpec("bob", ids[wallet(ann)], ids[wallet(bob)], 5, FUNDING)
            )
            await post_transfer(
                session, TransferSpec("over", ids[WORLD], ids[wallet(ann)], 6, FUNDING)
            )
    # Then nothing of it is booked, bob's credit neither
    assert await balance(db, settings, wallet(ann)) == AMOUNT_CEILING - 1
    assert await balance(db, settings, wallet(bob)) == 0
    # And the same for bulk postings, whose balances move in one statement
    with pytest.raises(Conflict, match=PAST_THE_CEILING):
        async with db.transaction() as session:
            await post_many(
                session,
                [
                    TransferSpec("b1", ids[wallet(ann)], ids[wallet(bob)], 7, FUNDING),
                    TransferSpec("b2", ids[WORLD], ids[wallet(ann)], 9, FUNDING),
                ],
            )
    # A single amount past the ceiling is refused whatever the balances
    with pytest.raises(Conflict, match=PAST_THE_CEILING):
        async with db.transaction() as session:
            big = AMOUNT_CEILING
            await post_many(
                session,
                [
                    TransferSpec("c1", ids[wallet(bob)], ids[wallet(ann)], big, FUNDING),
                    TransferSpec("c2", ids[wallet(bob)], ids[wallet(ann)], big, FUNDING),
                    TransferSpec("c3", ids[wallet(bob)], ids[wallet(ann)], big, FUNDING),
                ],
            )
    assert await balance(db, settings, wallet(ann)) == AMOUNT_CEILING - 1
    assert await balance(db, settings, wallet(bob)) == 0
    await assert_books_balance(db)


async def test_the_schema_holds_amounts_and_balances_within_the_ceiling(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann")
    ids = await _accounts(db, settings, WORLD, wallet(ann))
    statements = [
        ("UPDATE ledger_account SET balance = :v WHERE id = :id", AMOUNT_CEILING + 1),
        ("UPDATE ledger_account SET balance = :v WHERE id = :id", -AMOUNT_CEILING - 1),
        (
            "INSERT INTO transfer (idempotency_key, debit_id, credit_id, amount, kind, period,"
            " reference, created_at) VALUES ('k', :id, :id + 1, :v, 'x', '', '', '2026-01-01')",
            AMOUNT_CEILING + 1,
        ),
    ]
    for sql, value in statements:
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                connection = await session.connection()
                await connection.execute(text(sql), {"v": value, "id": ids[WORLD]})
    async with db.transaction() as session:
        connection = await session.connection()
        await connection.execute(
            text("UPDATE ledger_account SET balance = :v WHERE id = :id"),
            {"v": -AMOUNT_CEILING, "id": ids[WORLD]},
        )


# Minor units of 999,999,999,999,999.99 EUR, credited again and again before the ceiling.
HUGE = 99_999_999_999_999_999


def _corrupt(url: str, credits: int) -> None:
    """Books as the code before the ceiling left them: `credits` huge wallet credits."""

    async def run() -> None:
        db = Database(url)
        try:
            async with db.transaction() as session:
                connection = await session.connection()
                rows: list[tuple[str, str, None, float]] = [
                    ("outside_world", "outside_world", None, -HUGE * credits),
                    ("donor_wallet:1", "donor_wallet", None, HUGE * credits),
                ]
                if connection.dialect.name == "sqlite":
                    # SQLite turns an integer sum past 2^63 into a REAL: the float balance
                    rows = [(k, kind, a, float(v)) for k, kind, a, v in rows]
                for key, kind, account, value in rows:
                    await connection.execute(
                        text(
                            "INSERT INTO ledger_account (key, kind, currency, account_id,"
                            " identity_id, peer_domain, balance, created_at) VALUES"
                            " (:key, :kind, 'EUR', :a, NULL, '', :v, '2026-01-01')"
                        ),
                        {"key": key, "kind": kind, "a": account, "v": value},
                    )
                for index in range(credits):
                    await connection.execute(
                        text(
                            "INSERT INTO transfer (idempotency_key, debit_id, credit_id, amount,"
                            " kind, period, reference, created_at) VALUES"
                            " (:k, 1, 2, :v, 'funding', '', '', '2026-01-01')"
                        ),
                        {"k": f"fund:{index}", "v": HUGE},
                    )
        finally:
            await db.dispose()

    asyncio.run(run())


def _audit(url: str) -> Any:
    async def run() -> Any:
        db = Database(url)
        try:
            async with db.session() as session:
                return await check_ledger(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_books_past_the_ceiling_still_migrate_and_the_check_reports_them(
    databases: DatabaseFactory,
) -> None:
    # Given books from before the ceiling: 93 credits of 999,999,999,999,999.99 EUR on
    # SQLite (a float balance, sums past 2^63), 50 on PostgreSQL (BIGINT holds no more)
    url = databases.empty()
    command.upgrade(alembic_config(url), "0010")
    credits = 50 if url.startswith("postgresql") else 93
    _corrupt(url, credits)
    # When the instance migrates to the ceiling's revision
    upgrade(url)
    # Then the check reports every row past the ceiling instead of crashing
    audit = _audit(url)
    assert not audit.ok
    problems = "\n".join(audit.problems)
    for key in ("donor_wallet:1", "outside_world"):
        for which in ("cached", "recomputed"):
            assert f"{key}: {which} balance " in problems
    assert "beyond the ceiling of ±999999999999999 minor units" in problems
    if credits == 93:
        assert "donor_wallet:1: cached balance 9.3e+18 is not a whole number" in problems
    assert f"{credits} transfers move an amount outside 1 to 999999999999999" in problems
    assert audit.transfers == credits
