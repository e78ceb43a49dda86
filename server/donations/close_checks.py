"""The close's self-checks: before a period is marked closed, in the same transaction, its
ledger must add up. A failed check refuses the close (nothing of the finishing step is
kept, the period stays `closing`, and the close can be run again once the cause is fixed)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import except_, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import DonorPeriod, LedgerAccount, LedgerKind, Transfer
from server.money.audit import check_period
from server.money.ledger import NON_NEGATIVE

log = logging.getLogger("likewise.close")


class CloseRefused(RuntimeError):
    """A period's ledger does not add up: the close stops before marking it closed. Never
    the donors' doing: a bug or a corrupted row, for an administrator to look at."""

    def __init__(self, period: str, problems: list[str]) -> None:
        super().__init__(
            f"the close of {period} was refused: its ledger does not add up ("
            + "; ".join(problems)
            + "); the period stays open for closing, run the close again once fixed"
        )
        self.period = period
        self.problems = problems


async def period_problems(session: AsyncSession, period: str) -> list[str]:
    """What is wrong with the period's close: `likewise ledger check`'s checks of a
    period, and those only the close can make so cheaply (its donors one by one)."""
    audit = await check_period(session, period)
    problems = list(audit.problems)
    connection = await session.connection()
    donor_period = DonorPeriod.__table__  # type: ignore[attr-defined]
    recorded = await connection.execute(
        select(func.coalesce(func.sum(donor_period.c.fee), 0)).where(
            donor_period.c.period == period
        )
    )
    fees = int(recorded.scalar_one())
    if fees != audit.fees:
        problems.append(f"period {period}: donor records say fees {fees}, ledger {audit.fees}")
    astray = await _reserves_astray(session, period)
    if astray:
        problems.append(
            f"period {period}: donors' reserves did not take in, or did not pay out, exactly "
            f"the budgets recorded for them ({astray} differences)"
        )
    negative = await connection.execute(
        select(func.count())
        .select_from(LedgerAccount)
        .where(
            LedgerAccount.kind.in_([kind.value for kind in NON_NEGATIVE]),  # type: ignore[attr-defined]
            LedgerAccount.balance < 0,  # type: ignore[arg-type]
        )
    )
    below = int(negative.scalar_one())
    if below:
        problems.append(f"{below} accounts that may not go below zero have a negative balance")
    return problems


async def _reserves_astray(session: AsyncSession, period: str) -> int:
    """Donors whose reserve did not take in exactly their recorded budget from the period's
    transfers, or did not pay exactly that out (fee, shares, budget given), counted both
    ways: a budget without its movement, a movement without its budget."""
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    reserve = LedgerAccount.__table__.alias("reserve")  # type: ignore[attr-defined]
    donor_period = DonorPeriod.__table__  # type: ignore[attr-defined]
    budgets = select(donor_period.c.donor_id, donor_period.c.budget).where(
        donor_period.c.period == period, donor_period.c.budget > 0
    )
    connection = await session.connection()
    astray = 0
    for side in (transfer.c.credit_id, transfer.c.debit_id):
        moved: Any = (
            select(reserve.c.account_id, func.sum(transfer.c.amount))
            .join_from(transfer, reserve, reserve.c.id == side)
            .where(transfer.c.period == period, reserve.c.kind == LedgerKind.donor_reserve.value)
            .group_by(reserve.c.account_id)
        )
        for difference in (except_(budgets, moved), except_(moved, budgets)):
            count = select(func.count()).select_from(difference.subquery())
            astray += int((await connection.execute(count)).scalar_one())
    return astray


async def check_before_closing(session: AsyncSession, period: str) -> None:
    """Raise CloseRefused (logged) if the period's ledger does not add up."""
    problems = await period_problems(session, period)
    if problems:
        log.error(
            "event=close_refused period=%s problems=%d first=%r",
            period,
            len(problems),
            problems[0],
        )
        raise CloseRefused(period, problems)
