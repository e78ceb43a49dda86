from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlmodel import select

from server.db.bulk import MissingAccount
from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.donations.close import close_period
from server.models import EscrowLine, LedgerAccount, LedgerKind, Transfer, TransferKind
from server.money.audit import check_ledger
from server.money.funding import Funding, credit_wallet
from server.money.ledger import (
    IdempotencyConflict,
    InsufficientFunds,
    Owner,
    TransferSpec,
    ledger_accounts,
    post_many,
    post_transfer,
)
from server.settings import Settings
from tests.support.ledger import assert_books_balance, balance, donor, like, wallet, web_thing

FEES = Owner(LedgerKind.instance_fees)
OCT = datetime(2026, 10, 10, tzinfo=UTC)


async def _spec(db: Database, settings: Settings, who: int, amount: int, key: str) -> TransferSpec:
    async with db.transaction() as session:
        accounts = await ledger_accounts(session, settings, [wallet(who), FEES])
    return TransferSpec(
        key,
        int(accounts[wallet(who)].id or 0),
        int(accounts[FEES].id or 0),
        amount,
        TransferKind.funding,
    )


async def test_funding_twice_with_one_reference_credits_once(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann")
    for _ in range(2):
        async with db.transaction() as session:
            await credit_wallet(session, settings, Funding(ann, 1000, "bank-1"))
    assert await balance(db, settings, wallet(ann)) == 1000
    await assert_books_balance(db)


async def test_same_key_with_other_contents_is_a_conflict(db: Database, settings: Settings) -> None:
    ann = await donor(db, settings, "ann", funds=1000)
    spec = await _spec(db, settings, ann, 100, "k1")
    async with db.transaction() as session:
        _, created = await post_transfer(session, spec)
    async with db.transaction() as session:
        _, again = await post_transfer(session, spec)
    assert (created, again) == (True, False)
    changed = TransferSpec(spec.key, spec.debit_id, spec.credit_id, 101, TransferKind.funding)
    with pytest.raises(IdempotencyConflict):
        async with db.transaction() as session:
            await post_transfer(session, changed)
    assert await balance(db, settings, wallet(ann)) == 900


@pytest.mark.parametrize("amount", [0, -5, True])
async def test_amounts_must_be_positive_integers(
    db: Database, settings: Settings, amount: int
) -> None:
    ann = await donor(db, settings, "ann", funds=1000)
    spec = await _spec(db, settings, ann, amount, "bad")
    with pytest.raises(ValidationFailed):
        async with db.transaction() as session:
            await post_transfer(session, spec)


async def test_two_racing_debits_cannot_overdraw_a_wallet(db: Database, settings: Settings) -> None:
    # Given a wallet of 100 and two 80 debits on two connections at once
    ann = await donor(db, settings, "ann", funds=100)
    specs = [await _spec(db, settings, ann, 80, f"race-{i}") for i in range(2)]
    other = Database(settings.database_url)

    async def debit(database: Database, spec: TransferSpec) -> bool:
        try:
            async with database.transaction() as session:
                await post_transfer(session, spec)
                await asyncio.sleep(0.05)
            return True
        except InsufficientFunds:
            return False

    try:
        results = await asyncio.gather(debit(db, specs[0]), debit(other, specs[1]))
    finally:
        await other.dispose()
    # Then exactly one succeeds and the wallet never goes negative
    assert sorted(results) == [False, True]
    assert await balance(db, settings, wallet(ann)) == 20
    await assert_books_balance(db)


async def test_check_reports_a_cached_balance_that_disagrees(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann", funds=500)
    async with db.transaction() as session:
        await session.exec(
            update(LedgerAccount).where(LedgerAccount.key == wallet(ann).key).values(balance=7)  # type: ignore[arg-type]
        )
    async with db.session() as session:
        audit = await check_ledger(session)
    assert not audit.ok
    assert any("cached balance 7" in problem for problem in audit.problems)


@pytest.mark.parametrize(
    ("column", "value"),
    [("identity_id", 987654), ("donor_id", None), ("ledger_account_id", 987654), ("amount", 1)],
)
async def test_check_reports_an_escrow_line_astray(
    db: Database, settings: Settings, column: str, value: int | None
) -> None:
    # Given a closed month whose only share waits in escrow for a web page
    ann = await donor(db, settings, "ann", funds=1000, budget=500)
    bob = await donor(db, settings, "bob")
    await like(db, settings, ann, web_thing("https://blog.example/a"), at=OCT)
    await close_period(db, settings, "2026-10")
    await assert_books_balance(db)
    # When one column of its escrow line is changed behind the ledger's back
    async with db.transaction() as session:
        await session.exec(update(EscrowLine).values({column: bob if value is None else value}))
    # Then the check finds it
    async with db.session() as session:
        audit = await check_ledger(session)
    assert any("1 escrow lines disagree" in problem for problem in audit.problems), audit.problems


@pytest.mark.parametrize("bulk", [False, True])
async def test_a_posting_to_a_missing_account_fails_and_changes_nothing(
    db: Database, settings: Settings, bulk: bool
) -> None:
    # Given a funded wallet and a transfer from it to an account id nobody created
    ann = await donor(db, settings, "ann", funds=1000)
    spec = (await _spec(db, settings, ann, 300, "astray"))._replace(credit_id=987654)
    # When it is posted, one at a time or in bulk as the close does
    with pytest.raises(MissingAccount):
        async with db.transaction() as session:
            if bulk:
                await post_many(session, [spec])
            else:
                await post_transfer(session, spec)
    # Then nothing was written: the wallet keeps its money and the books still balance
    async with db.session() as session:
        transfers = await session.exec(select(Transfer).where(Transfer.idempotency_key == "astray"))
        assert transfers.first() is None
    assert await balance(db, settings, wallet(ann)) == 1000
    await assert_books_balance(db)


async def test_check_reports_a_transfer_naming_a_missing_account(
    db: Database, settings: Settings
) -> None:
    # Given books that balance
    await donor(db, settings, "ann", funds=1000)
    await assert_books_balance(db)
    # When a transfer's credit account is changed behind the ledger's back
    async with db.transaction() as session:
        await session.exec(
            update(Transfer).where(Transfer.idempotency_key != "").values(credit_id=987654)  # type: ignore[arg-type]
        )
    # Then the check names the missing account
    async with db.session() as session:
        audit = await check_ledger(session)
    assert any("ledger account 987654, which does not exist" in p for p in audit.problems), (
        audit.problems
    )
