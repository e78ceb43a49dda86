"""`likewise ledger check`: recompute every balance from the transfers and test the ledger's
invariants (docs/architecture.md, "Money flow"): each cached balance equals the sum of its
transfers; per currency, all balances sum to zero; no account that must stay non-negative
(a donor wallet, say) is negative; every transfer moves 1 to AMOUNT_CEILING minor units; in
each closed period, what donors spent equals fees + shares + budgets given unspent and the
donor records, and every escrow line has its share transfer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, except_, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DataError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import (
    DonorPeriod,
    EscrowLine,
    Identity,
    LedgerAccount,
    LedgerKind,
    Period,
    Transfer,
    TransferKind,
)
from server.models.clicks import PeriodStage
from server.models.ledger import AMOUNT_CEILING
from server.money.ledger import NON_NEGATIVE

ESCROW_KINDS = (LedgerKind.escrow_identity.value, LedgerKind.escrow_peer.value)


@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)
    accounts: int = 0
    transfers: int = 0
    periods_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class Unsummable(Exception):
    """The database could not add the amounts up (SQLite's SUM overflows past 2^63)."""


async def _sum_query(session: AsyncSession, statement: Any) -> list[Any]:
    try:
        return list((await (await session.connection()).execute(statement)).all())
    except (OperationalError, DataError) as error:
        raise Unsummable(str(error.orig or error)) from error


async def _recomputed(session: AsyncSession, audit: Audit) -> dict[int, int]:
    """Credits minus debits per account: summed by the database, or here in Python when the
    database cannot (a sum beyond 2^63 means amounts far past the ceiling, reported)."""
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    balances: dict[int, int] = {}
    try:
        credits = await _sum_query(
            session,
            sa_select(transfer.c.credit_id, func.sum(transfer.c.amount)).group_by(
                transfer.c.credit_id
            ),
        )
        debits = await _sum_query(
            session,
            sa_select(transfer.c.debit_id, func.sum(transfer.c.amount)).group_by(
                transfer.c.debit_id
            ),
        )
    except Unsummable as error:
        audit.problems.append(f"transfers cannot be summed by the database ({error})")
        return await _recomputed_here(session, audit)
    for account_id, total in credits:
        balances[account_id] = balances.get(account_id, 0) + _whole(total)
    for account_id, total in debits:
        balances[account_id] = balances.get(account_id, 0) - _whole(total)
    return balances


async def _recomputed_here(session: AsyncSession, audit: Audit) -> dict[int, int]:
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    balances: dict[int, int] = {}
    rows = await (await session.connection()).stream(
        sa_select(transfer.c.debit_id, transfer.c.credit_id, transfer.c.amount)
    )
    async for debit, credit, amount in rows:
        value = _whole(amount)
        balances[credit] = balances.get(credit, 0) + value
        balances[debit] = balances.get(debit, 0) - value
    return balances


def _whole(value: object) -> int:
    """An amount or sum as read back: PostgreSQL's SUM is a Decimal; a REAL that SQLite
    made of an overflowing integer becomes the integer nearest to it (reported apart)."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float) and math.isfinite(value):
        return int(value)
    return 0


def _bounds(key: str, cached: object, actual: int) -> list[str]:
    problems = []
    if not isinstance(cached, int) or isinstance(cached, bool):
        problems.append(f"{key}: cached balance {cached!r} is not a whole number of minor units")
    values: list[tuple[str, object]] = [("cached", cached), ("recomputed", actual)]
    for name, value in values:
        if (
            isinstance(value, int | float | Decimal)
            and not -AMOUNT_CEILING <= value <= AMOUNT_CEILING
        ):
            problems.append(
                f"{key}: {name} balance {value} is beyond the ceiling of "
                f"±{AMOUNT_CEILING} minor units"
            )
    return problems


async def _check_balances(session: AsyncSession, audit: Audit) -> None:
    balances = await _recomputed(session, audit)
    table = LedgerAccount.__table__  # type: ignore[attr-defined]
    rows = await (await session.connection()).execute(
        sa_select(table.c.id, table.c.key, table.c.kind, table.c.currency, table.c.balance)
    )
    sums: dict[str, int] = {}
    listed = rows.all()
    for account_id, key, kind, currency, cached in listed:
        audit.accounts += 1
        actual = balances.get(account_id, 0)
        sums[currency] = sums.get(currency, 0) + actual
        if actual != cached:
            audit.problems.append(f"{key}: cached balance {cached} but transfers sum to {actual}")
        if kind in NON_NEGATIVE and actual < 0:
            audit.problems.append(f"{key}: negative balance {actual}")
        audit.problems.extend(_bounds(key, cached, actual))
    known = {row[0] for row in listed}
    for account_id in sorted(set(balances) - known):
        audit.problems.append(
            f"transfers name ledger account {account_id}, which does not exist "
            f"(they sum to {balances[account_id]} there)"
        )
    for currency, total in sorted(sums.items()):
        if total != 0:
            audit.problems.append(f"{currency}: balances sum to {total}, not 0")
    await _check_transfers(session, audit)


async def _check_transfers(session: AsyncSession, audit: Audit) -> None:
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    count = await connection.execute(sa_select(func.count()).select_from(transfer))
    audit.transfers = int(count.scalar_one())
    astray = await connection.execute(
        sa_select(func.count())
        .select_from(transfer)
        .where((transfer.c.amount <= 0) | (transfer.c.amount > AMOUNT_CEILING))
    )
    outside = int(astray.scalar_one())
    if outside:
        audit.problems.append(
            f"{outside} transfers move an amount outside 1 to {AMOUNT_CEILING} minor units"
        )


CLOSE_KINDS = (
    TransferKind.close_reserve,
    TransferKind.close_fee,
    TransferKind.close_share,
    TransferKind.close_unspent,
)


def _sum_of(transfer: Any, kind: TransferKind) -> Any:
    return func.coalesce(func.sum(case((transfer.c.kind == kind, transfer.c.amount))), 0)


async def _check_periods(session: AsyncSession, audit: Audit) -> None:
    connection = await session.connection()
    closed = await connection.execute(
        sa_select(Period.__table__.c.id).where(  # type: ignore[attr-defined]
            Period.__table__.c.stage == PeriodStage.closed.value  # type: ignore[attr-defined]
        )
    )
    for (period,) in closed.all():
        audit.periods_checked += 1
        audit.problems.extend((await check_period(session, period)).problems)


@dataclass
class PeriodAudit:
    """One period's close as its transfers add up, and what disagrees."""

    spent: int = 0  # donors' budgets, moved from wallets to reserves
    fees: int = 0
    shares: int = 0
    unspent: int = 0  # budgets given to LIKEWISE_UNSPENT_TO's account
    problems: list[str] = field(default_factory=list)


async def check_period(
    session: AsyncSession, period: str, *, escrow_lines: bool = True
) -> PeriodAudit:
    """The invariants of one period's close: what donors spent is what went out as fees,
    shares and budgets given unspent; the donors' records say the same total; every
    escrow line matches its share. `likewise ledger check` runs them for every closed
    period; the close, before it marks a period closed, all but the last (a join over
    every line, with `escrow_lines` False)."""
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    result = PeriodAudit()
    try:
        sums = await _sum_query(
            session,
            sa_select(*(_sum_of(transfer, kind) for kind in CLOSE_KINDS)).where(
                transfer.c.period == period
            ),
        )
    except Unsummable as error:
        result.problems.append(f"period {period}: its transfers cannot be summed ({error})")
        return result
    spent, fees, shares, unspent = (_whole(v) for v in sums[0])
    result.spent, result.fees, result.shares, result.unspent = spent, fees, shares, unspent
    if spent != fees + shares + unspent:
        result.problems.append(
            f"period {period}: donors spent {spent} but fees {fees} + shares {shares} "
            f"+ budgets given unspent {unspent} = {fees + shares + unspent}"
        )
    await _check_period_records(session, result.problems, period, spent, escrow_lines)
    return result


async def _check_period_records(
    session: AsyncSession, problems: list[str], period: str, spent: int, escrow_lines: bool
) -> None:
    connection = await session.connection()
    donor_period = DonorPeriod.__table__  # type: ignore[attr-defined]
    budgets = await connection.execute(
        sa_select(func.coalesce(func.sum(donor_period.c.budget), 0)).where(
            donor_period.c.period == period
        )
    )
    recorded = _whole(budgets.scalar_one())
    if recorded != spent:
        problems.append(f"period {period}: donor records say {recorded}, ledger {spent}")
    if not escrow_lines:
        return
    bad = await _escrow_lines_astray(session, period)
    if bad:
        problems.append(
            f"period {period}: {bad} escrow lines disagree with their transfers or name "
            "rows that do not exist"
        )


async def _escrow_lines_astray(session: AsyncSession, period: str) -> int:
    """Lines of the period without their click's close_share transfer (same amount, from
    the line's donor's reserve), or naming an identity or escrow account that does not
    exist. The table has no foreign keys of its own for these: this is their check.
    Set difference and primary-key lookups only, so no plan is quadratic, even on
    statistics that predate the close."""
    escrow = EscrowLine.__table__  # type: ignore[attr-defined]
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    identity = Identity.__table__  # type: ignore[attr-defined]
    reserve = LedgerAccount.__table__.alias("reserve")  # type: ignore[attr-defined]
    held_in = LedgerAccount.__table__.alias("held_in")  # type: ignore[attr-defined]
    lines = sa_select(escrow.c.click_id, escrow.c.amount, escrow.c.donor_id).where(
        escrow.c.period == period
    )
    shares = (
        sa_select(transfer.c.click_id, transfer.c.amount, reserve.c.account_id)
        .join_from(transfer, reserve, reserve.c.id == transfer.c.debit_id)
        .where(
            transfer.c.period == period,
            transfer.c.kind == TransferKind.close_share,
            reserve.c.kind == LedgerKind.donor_reserve.value,
        )
    )
    unmatched = except_(lines, shares).subquery()
    connection = await session.connection()
    astray = int(
        (await connection.execute(sa_select(func.count()).select_from(unmatched))).scalar_one()
    )
    dangling = await connection.execute(
        sa_select(func.count())
        .select_from(
            escrow.outerjoin(held_in, held_in.c.id == escrow.c.ledger_account_id).outerjoin(
                identity, identity.c.id == escrow.c.identity_id
            )
        )
        .where(
            escrow.c.period == period,
            held_in.c.id.is_(None)
            | held_in.c.kind.not_in(list(ESCROW_KINDS))
            | identity.c.id.is_(None),
        )
    )
    return astray + int(dangling.scalar_one())


async def check_ledger(session: AsyncSession) -> Audit:
    audit = Audit()
    await _check_balances(session, audit)
    await _check_periods(session, audit)
    return audit
