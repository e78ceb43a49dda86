"""The close's self-checks: before a period is marked closed, in the same transaction, its
ledger must add up. A failed check refuses the close (nothing of the finishing step is
kept, the period stays `closing`, and the close can be run again once the cause is fixed)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.close_sql import recorded_outcomes, transfers_by_key
from server.donations.close_keys import reserve_key
from server.models import LedgerAccount, LedgerKind
from server.money.audit import check_period
from server.money.ledger import NON_NEGATIVE, Owner

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
    """What is wrong with the period's close: `likewise ledger check`'s sums of a period
    (what donors spent went out as fees, shares and budgets given; the donors' records
    say the same), then donor by donor. A few scans and primary-key lookups, a small part
    of the close's own time; the escrow lines' join is left to `likewise ledger check`."""
    audit = await check_period(session, period, escrow_lines=False)
    problems = list(audit.problems)
    outcomes = await recorded_outcomes(session, period)
    fees = sum(fee for _, fee, _, _ in outcomes)
    if fees != audit.fees:
        problems.append(f"period {period}: donor records say fees {fees}, ledger {audit.fees}")
    astray = await _reserves_astray(session, period, {d: budget for budget, _, _, d in outcomes})
    if astray:
        problems.append(
            f"period {period}: {astray} donors' reserves did not take in exactly the budget "
            "recorded for them"
        )
    accounts = LedgerAccount.__table__  # type: ignore[attr-defined]
    counts = await (await session.connection()).execute(
        select(
            func.count().filter(
                accounts.c.kind.in_([kind.value for kind in NON_NEGATIVE]), accounts.c.balance < 0
            ),
            func.count().filter(
                accounts.c.kind == LedgerKind.donor_reserve.value, accounts.c.balance != 0
            ),
        )
    )
    negative, holding = counts.one()
    if negative:
        problems.append(f"{negative} accounts that may not go below zero have a negative balance")
    if holding:
        problems.append(f"{holding} donors' reserves still hold money after the close")
    return problems


async def _reserves_astray(session: AsyncSession, period: str, budgets: dict[int, int]) -> int:
    """Donors whose reserve did not take in exactly their recorded budget: no transfer to
    it, one of another amount or to another account, or one where nothing was spent."""
    keys = {donor: reserve_key(period, donor) for donor in budgets}
    moved = await transfers_by_key(session, list(keys.values()))
    astray = 0
    for donor, budget in budgets.items():
        movement = moved.get(keys[donor])
        if movement is None:
            astray += budget != 0
        elif not budget:
            astray += 1  # money moved where nothing was spent
        else:
            reserve = Owner(LedgerKind.donor_reserve, account_id=donor).key
            astray += movement != (reserve, budget)
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
