"""The close checks the period's ledger before it marks the period closed: a row that does
not add up refuses the close in the finishing transaction (nothing of it kept, the period
still closing), and once the row is repaired the same close runs to the end."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import select

from server.db.engine import Database
from server.donations.close import close_batch, close_period, start_close
from server.donations.close_checks import CloseRefused
from server.models import Job, Period
from server.money.audit import check_ledger
from server.settings import Settings
from server.settlement.peering import PREPARE_JOB
from tests.support.ledger import donor, like, web_thing

OCT = datetime(2026, 10, 10, tzinfo=UTC)
PERIOD = "2026-10"


async def _two_donors(db: Database, settings: Settings) -> tuple[int, int]:
    """ann (5.00 budget) and bob (3.00) liked two web pages each in October."""
    ann = await donor(db, settings, "ann", funds=1000, budget=500)
    bob = await donor(db, settings, "bob", funds=1000, budget=300)
    for who in (ann, bob):
        for n in range(2):
            await like(db, settings, who, web_thing(f"https://blog.example/{who}/{n}"), at=OCT)
    return ann, bob


async def _settle_every_donor(db: Database, settings: Settings) -> None:
    """The close up to its finishing step: the period closing, every donor settled."""
    await start_close(db, settings, PERIOD, force=False)
    while await close_batch(db, settings, PERIOD, 1):
        pass


async def _sql(db: Database, statement: str, **values: object) -> None:
    async with db.transaction() as session:
        await (await session.connection()).execute(text(statement), values)


async def _account(db: Database, key: str) -> int:
    async with db.session() as session:
        query = text("SELECT id FROM ledger_account WHERE key = :key")
        return int((await (await session.connection()).execute(query, {"key": key})).scalar_one())


async def _period_and_jobs(db: Database) -> tuple[str, bool, int]:
    async with db.session() as session:
        period = (await session.exec(select(Period).where(Period.id == PERIOD))).one()
        jobs = (await session.exec(select(Job).where(Job.kind == PREPARE_JOB))).all()
    return str(period.stage), period.closed_at is not None, len(jobs)


async def _extra_fee(db: Database, ann: int, bob: int) -> tuple[str, str]:
    """A fee transfer of 1 posted twice over: the fee account and ann's reserve disagree
    with the donors' records."""
    reserve = await _account(db, f"donor_reserve:{ann}")
    fees = await _account(db, "instance_fees")
    insert = (
        "INSERT INTO transfer (idempotency_key, debit_id, credit_id, amount, kind, period, "
        "reference, created_at) VALUES ('stray', {}, {}, 1, 'close_fee', '{}', '', "
        "CURRENT_TIMESTAMP)"
    )
    return insert.format(
        reserve, fees, PERIOD
    ), "DELETE FROM transfer WHERE idempotency_key = 'stray'"


async def _budgets_swapped(db: Database, ann: int, bob: int) -> tuple[str, str]:
    """ann's and bob's records each say 4.00: the same total, but not what either spent."""
    move = "UPDATE donor_period SET budget = {} WHERE period = '{}' AND donor_id = {}"
    wrong = "; ".join(move.format(400, PERIOD, who) for who in (ann, bob))
    right = f"{move.format(500, PERIOD, ann)}; {move.format(300, PERIOD, bob)}"
    return wrong, right


async def _wallet_below_zero(db: Database, ann: int, bob: int) -> tuple[str, str]:
    """bob's cached wallet balance below zero (the rest of the ledger untouched)."""
    wallet = await _account(db, f"donor_wallet:{bob}")
    update = "UPDATE ledger_account SET balance = {} WHERE id = {}"
    return update.format(-1, wallet), update.format(700, wallet)


CORRUPTIONS = {
    "a transfer too many": (_extra_fee, "but fees 81 + shares 720"),
    "two donors' budgets swapped": (_budgets_swapped, "reserves did not take in"),
    "a wallet below zero": (_wallet_below_zero, "negative balance"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
async def test_a_period_whose_ledger_does_not_add_up_is_not_closed(
    db: Database, money_settings: Settings, corruption: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = money_settings  # 10 % fee
    ann, bob = await _two_donors(db, settings)
    await _settle_every_donor(db, settings)
    # Given a row that no longer adds up, written after every donor was settled
    corrupt, said = CORRUPTIONS[corruption]
    wrong, right = await corrupt(db, ann, bob)
    for statement in wrong.split("; "):
        await _sql(db, statement)
    # When the close finishes
    with caplog.at_level(logging.ERROR, logger="likewise.close"):
        with pytest.raises(CloseRefused) as refused:
            await close_period(db, settings, PERIOD)
    # Then it is refused, says why, and logs it; the period is still closing, not closed,
    # and nothing the closed period would have started (its settlement batches) is queued
    assert any(said in problem for problem in refused.value.problems), refused.value.problems
    assert "event=close_refused period=2026-10" in caplog.text
    assert await _period_and_jobs(db) == ("closing", False, 0)
    # And once the row is repaired, running the close again closes the period
    for statement in right.split("; "):
        await _sql(db, statement)
    report = await close_period(db, settings, PERIOD)
    assert (report.stage, report.donors_done, report.spent, report.fees) == ("closed", 2, 800, 80)
    assert await _period_and_jobs(db) == ("closed", True, 1)
    async with db.session() as session:
        assert (await check_ledger(session)).problems == []


async def test_a_sound_period_closes_after_its_checks(
    db: Database, money_settings: Settings
) -> None:
    await _two_donors(db, money_settings)
    report = await close_period(db, money_settings, PERIOD)
    assert (report.stage, report.spent, report.fees) == ("closed", 800, 80)
    assert await _period_and_jobs(db) == ("closed", True, 1)
    async with db.session() as session:
        assert (await check_ledger(session)).problems == []
