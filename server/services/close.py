"""The month close: one resumable, idempotent job.

Stages: the period goes open → closing (no click joins it after that) → closed. Each donor
with clicks gets a `donor_period` row; a batch of donors is settled in one transaction that
also marks them done, so a run killed at any point and run again posts exactly the same
transfers. Transfer keys are derived from period, donor and click, so nothing can post twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, literal, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import Database
from server.models import (
    Click,
    DonorPeriod,
    DonorSettings,
    LedgerAccount,
    LedgerKind,
)
from server.models.base import utcnow
from server.models.clicks import DonorStage, PeriodStage
from server.services.bulk import db_time, insert_rows, placeholders
from server.services.errors import ValidationFailed
from server.services.ledger import (
    Owner,
    TransferSpec,
    insert_ignoring_duplicates,
    ledger_account_ids,
    post_many,
)
from server.services.periods import lock_period, period_of
from server.services.split import equal_split, fee_of
from server.settings import Settings

Progress = Callable[[int, int], None]
BATCH_SIZE = 5000  # donors per transaction
DONOR_KINDS = frozenset({LedgerKind.donor_wallet, LedgerKind.donor_reserve})
SQLITE_CACHE_KIB = 65536  # a bigger page cache keeps the growing indexes in memory


class ClickLine(NamedTuple):
    click_id: int
    donor_id: int
    identity_id: int
    network: str
    external_id: str
    claimed_account_id: int | None


@dataclass
class CloseReport:
    period: str
    stage: str = PeriodStage.open.value
    donors: int = 0
    donors_done: int = 0
    spent: int = 0
    fees: int = 0


@dataclass
class BatchPlan:
    transfers: list[TransferSpec] = field(default_factory=list)
    escrow: list[tuple[object, ...]] = field(default_factory=list)
    donors: list[dict[str, Any]] = field(default_factory=list)


async def start_close(
    db: Database, settings: Settings, period: str, *, force: bool, now: datetime | None = None
) -> str:
    """Move the period to closing (once) and list its donors; returns the stage."""
    async with db.transaction() as session:
        row = await lock_period(session, period, exclusive=True)
        if row.stage != PeriodStage.open:
            return row.stage
        if period >= period_of(now or utcnow()) and not force:
            raise ValidationFailed(
                f"the period {period} is still running; close it early with --force"
            )
        row.stage = PeriodStage.closing.value
        row.closing_at = now or utcnow()
        session.add(row)
        donors = (
            select(
                literal(period),
                Click.donor_id,
                literal(DonorStage.pending.value),
                *[literal(0)] * 3,
            )
            .where(Click.period == period)
            .distinct()
        )
        table = DonorPeriod.__table__  # type: ignore[attr-defined]
        columns = ["period", "donor_id", "stage", "budget", "fee", "clicks"]
        await session.exec(insert_ignoring_duplicates(session, table).from_select(columns, donors))
        return PeriodStage.closing.value


async def _claim_donors(session: AsyncSession, period: str, limit: int) -> list[int]:
    query = (
        select(DonorPeriod.donor_id)
        .where(DonorPeriod.period == period, DonorPeriod.stage == DonorStage.pending)
        .order_by(col(DonorPeriod.donor_id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.exec(query)).all())


CLICK_LINES_SQL = (
    "SELECT click.id, click.donor_id, identity.id, identity.network, identity.external_id, "
    "identity.claimed_account_id FROM click "
    "JOIN thing ON thing.id = click.thing_id JOIN identity ON identity.id = thing.identity_id "
    "WHERE click.period = {period} AND click.donor_id IN ({donors}) "
    "ORDER BY click.donor_id, click.id"
)


async def _click_lines(session: AsyncSession, period: str, donors: list[int]) -> list[ClickLine]:
    """The batch's clicks with their creators, straight from the driver (a hot path)."""
    connection = await session.connection()
    marks = placeholders(connection, 1 + len(donors))
    sql = CLICK_LINES_SQL.format(period=marks[0], donors=", ".join(marks[1:]))
    result = await connection.exec_driver_sql(sql, (period, *donors))
    return [ClickLine._make(row) for row in result.all()]


async def _budgets(
    session: AsyncSession, settings: Settings, donors: list[int], wallets: dict[int, int]
) -> dict[int, int]:
    """budget = min(monthly budget, wallet balance); 0 when paused. Wallets are locked."""
    ids = list(wallets.values())
    balances = dict(
        (
            await session.exec(
                select(LedgerAccount.id, LedgerAccount.balance)
                .where(col(LedgerAccount.id).in_(ids))
                .order_by(col(LedgerAccount.id))
                .with_for_update()
            )
        ).all()
    )
    rows = await session.exec(
        select(DonorSettings).where(col(DonorSettings.account_id).in_(donors))
    )
    chosen = {row.account_id: (0 if row.paused else row.monthly_budget) for row in rows}
    return {
        donor: max(0, min(chosen.get(donor, settings.budget_default), balances[wallets[donor]]))
        for donor in donors
    }


def destination(settings: Settings, line: ClickLine) -> Owner:
    if line.claimed_account_id is not None:
        return Owner(LedgerKind.creator_available, account_id=line.claimed_account_id)
    if line.network == "fediverse":
        host = urlsplit(line.external_id).netloc.lower()
        if host and host != settings.domain:
            return Owner(LedgerKind.escrow_peer, peer_domain=host)
    return Owner(LedgerKind.escrow_identity, identity_id=line.identity_id)


@dataclass(frozen=True)
class BatchContext:
    settings: Settings
    period: str
    accounts: dict[Owner, int]
    destinations: dict[int, Owner]
    now: datetime
    stamp: object  # `now` as the driver stores it
    targets: dict[int, tuple[int, bool]] = field(default_factory=dict)  # identity → (id, escrow)

    def __post_init__(self) -> None:
        escrows = (LedgerKind.escrow_peer, LedgerKind.escrow_identity)
        for identity, owner in self.destinations.items():
            self.targets[identity] = (self.accounts[owner], owner.kind in escrows)


def plan_donor(
    context: BatchContext, donor: int, budget: int, lines: Sequence[ClickLine], plan: BatchPlan
) -> None:
    """The transfers of one donor: wallet → reserve, fee, then one share per click."""
    settings, period, ids = context.settings, context.period, context.accounts
    # Zero-padded: keys grow in insertion order, so their index is appended to, not split.
    prefix = f"close:{period}:{donor:010d}"
    spend = budget if lines else 0
    fee = fee_of(spend, settings.fee_bps)
    plan.donors.append({"d": donor, "budget": spend, "fee": fee, "clicks": len(lines)})
    if spend == 0:
        return
    wallet = ids[Owner(LedgerKind.donor_wallet, account_id=donor)]
    reserve = ids[Owner(LedgerKind.donor_reserve, account_id=donor)]
    plan.transfers.append(
        TransferSpec(f"{prefix}:reserve", wallet, reserve, spend, "close_reserve", period)
    )
    if fee:
        fees = ids[Owner(LedgerKind.instance_fees)]
        plan.transfers.append(
            TransferSpec(f"{prefix}:fee", reserve, fees, fee, "close_fee", period)
        )
    targets, destinations = context.targets, context.destinations
    for line, share in zip(lines, equal_split(spend - fee, len(lines)), strict=True):
        if share == 0:
            continue
        target, escrowed = targets[line.identity_id]
        key = f"{prefix}:click:{line.click_id:012d}"
        plan.transfers.append(
            TransferSpec(key, reserve, target, share, "close_share", period, line.click_id)
        )
        if escrowed:
            plan.escrow.append(_escrow_row(context, line, destinations[line.identity_id], share))


ESCROW_COLUMNS = (
    "period",
    "donor_id",
    "click_id",
    "identity_id",
    "ledger_account_id",
    "peer_domain",
    "creator_uri",
    "amount",
    "state",
    "created_at",
)


ESCROW_PG_TYPES = (
    "varchar",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "varchar",
    "varchar",
    "bigint",
    "varchar",
    "timestamptz",
)


def _escrow_row(
    context: BatchContext, line: ClickLine, owner: Owner, share: int
) -> tuple[object, ...]:
    return (
        context.period,
        line.donor_id,
        line.click_id,
        line.identity_id,
        context.accounts[owner],
        owner.peer_domain,
        line.external_id if line.network == "fediverse" else "",
        share,
        "held",
        context.stamp,
    )


async def close_batch(
    db: Database,
    settings: Settings,
    period: str,
    size: int = BATCH_SIZE,
    known: dict[Owner, int] | None = None,
) -> int:
    """Settle up to `size` pending donors in one transaction; returns how many. `known`
    caches ledger account ids between batches (added to only after a commit)."""
    known = {} if known is None else known
    async with db.transaction() as session:
        if db.is_sqlite:
            await (await session.connection()).exec_driver_sql(
                f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"
            )
        donors = await _claim_donors(session, period, size)
        if not donors:
            return 0
        lines = await _click_lines(session, period, donors)
        owners = [Owner(LedgerKind.instance_fees)]
        for donor in donors:
            owners.append(Owner(LedgerKind.donor_wallet, account_id=donor))
            owners.append(Owner(LedgerKind.donor_reserve, account_id=donor))
        destinations = {
            line.identity_id: destination(settings, line)
            for line in {line.identity_id: line for line in lines}.values()
        }
        owners.extend(set(destinations.values()))
        fetched = await ledger_account_ids(session, settings, [o for o in owners if o not in known])
        ids = {**known, **fetched}
        wallets = {d: ids[Owner(LedgerKind.donor_wallet, account_id=d)] for d in donors}
        budgets = await _budgets(session, settings, donors, wallets)
        now = utcnow()
        stamp = db_time(await session.connection(), now)
        context = BatchContext(settings, period, ids, destinations, now, stamp)
        plan = BatchPlan()
        by_donor: dict[int, list[ClickLine]] = {d: [] for d in donors}
        for line in lines:
            by_donor[line.donor_id].append(line)
        for donor in donors:
            plan_donor(context, donor, budgets[donor], by_donor[donor], plan)
        await _write_plan(session, period, plan, context.now)
    # Cache creators' and fees' accounts only: a donor's wallet and reserve are used once.
    known.update((o, i) for o, i in fetched.items() if o.kind not in DONOR_KINDS)
    return len(donors)


async def _write_plan(session: AsyncSession, period: str, plan: BatchPlan, now: datetime) -> None:
    await post_many(session, plan.transfers)
    connection = await session.connection()
    await insert_rows(session, "escrow_line", ESCROW_COLUMNS, plan.escrow, ESCROW_PG_TYPES)
    table = DonorPeriod.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.period == period, table.c.donor_id == bindparam("d"))
        .values(
            stage=DonorStage.done.value,
            budget=bindparam("budget"),
            fee=bindparam("fee"),
            clicks=bindparam("clicks"),
            closed_at=now,
        )
    )
    await connection.execute(statement, plan.donors)


async def finish_close(db: Database, period: str) -> str:
    async with db.transaction() as session:
        row = await lock_period(session, period, exclusive=True)
        if row.stage != PeriodStage.closing:
            return row.stage
        pending = await session.exec(
            select(func.count())
            .select_from(DonorPeriod)
            .where(DonorPeriod.period == period, DonorPeriod.stage == DonorStage.pending)
        )
        if pending.one():
            return row.stage
        row.stage = PeriodStage.closed.value
        row.closed_at = utcnow()
        session.add(row)
        return row.stage


async def close_report(db: Database, period: str) -> CloseReport:
    async with db.session() as session:
        stage = (await lock_period(session, period, exclusive=False)).stage
        await session.commit()
        totals = await session.exec(
            select(
                func.count(),
                func.count().filter(col(DonorPeriod.stage) == DonorStage.done.value),
                func.coalesce(func.sum(DonorPeriod.budget), 0),
                func.coalesce(func.sum(DonorPeriod.fee), 0),
            ).where(DonorPeriod.period == period)
        )
        donors, done, spent, fees = totals.one()
    return CloseReport(period, stage, int(donors), int(done), int(spent), int(fees))


async def close_period(
    db: Database,
    settings: Settings,
    period: str,
    *,
    force: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> CloseReport:
    """Run (or resume) the close of `period` to the end."""
    await start_close(db, settings, period, force=force)
    report = await close_report(db, period)
    done = report.donors_done
    known: dict[Owner, int] = {}
    while True:
        if progress is not None:
            progress(done, report.donors)
        count = await close_batch(db, settings, period, batch_size, known)
        if count == 0:
            break
        done += count
    await finish_close(db, period)
    return await close_report(db, period)
