"""The month close: one resumable, idempotent job.

Stages: the period goes open → closing (no click joins it after that) → closed. Each donor
with clicks gets a `donor_period` row; a batch of donors is settled in one transaction that
also marks them done, so a run killed at any point and run again posts exactly the same
transfers. Transfer keys are derived from period, donor and click, so nothing can post twice.
On PostgreSQL several workers settle batches at once, each in its own transaction: the
database's per-row foreign-key checks cost more than the rest of the close together.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, literal, union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.bulk import copy_rows, db_time
from server.db.close_sql import (
    CLAIMED_BY,
    DONOR,
    IDENTITY,
    ClickLine,
    DonorOutcome,
    click_lines,
    close_tuning,
    donor_choices,
    identities,
    lock_balances,
    mark_donors_done,
    refresh_escrow_statistics,
    widen_page_cache,
)
from server.db.engine import Database
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import ValidationFailed
from server.donations.close_checks import check_before_closing
from server.donations.close_keys import donor_prefix, reserve_key
from server.donations.periods import lock_period, period_of
from server.federation.remote import domain_of
from server.jobs.queue import enqueue
from server.models import Account, Click, DonorPeriod, LedgerAccount, LedgerKind, TransferKind
from server.models.base import utcnow
from server.models.clicks import DonorStage, PeriodStage
from server.models.payouts import EscrowState
from server.money.ledger import (
    Owner,
    TransferRow,
    ledger_account_ids,
    post_rows,
)
from server.money.split import equal_split, fee_of
from server.settings import Settings
from server.settlement.peering import PREPARE_JOB
from server.states import advance, source_values

Progress = Callable[[int, int], None]
FEES = Owner(LedgerKind.instance_fees)
ESCROWS = frozenset({LedgerKind.escrow_peer, LedgerKind.escrow_identity})
# The close's transfer kinds, and the state of the escrow lines it writes, as its bulk rows
# carry them.
RESERVE = TransferKind.close_reserve.value  # a donor's budget, from the wallet
FEE = TransferKind.close_fee.value
SHARE = TransferKind.close_share.value
UNSPENT = TransferKind.close_unspent.value  # a budget given to LIKEWISE_UNSPENT_TO
HELD = EscrowState.held.value
# A batch moves its donors' period rows from pending to done in bulk.
DONOR_DONE = DonorStage.done.value
(DONOR_PENDING,) = source_values(DonorStage.pending, to=DonorStage.done)


class Unclaimed(NamedTuple):
    """Where an identity's shares go while nobody has claimed it."""

    owner: Owner
    creator_uri: str


# A share's ledger account, and (peer domain, creator URI) when the share is escrowed.
Target = tuple[int, tuple[str, str] | None]


@dataclass
class CloseCache:
    """What one run of the close has learnt, shared by its workers and batches; only what
    a committed batch read goes in. An identity's network and external id never change,
    so where its shares go while unclaimed is worked out once."""

    unclaimed: dict[int, Target] = field(default_factory=dict)  # by identity
    accounts: dict[Owner, int] = field(default_factory=dict)  # creators' and fees' accounts


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
    transfers: list[TransferRow] = field(default_factory=list)
    escrow: list[tuple[object, ...]] = field(default_factory=list)
    donors: list[DonorOutcome] = field(default_factory=list)


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
        advance(row, PeriodStage.closing)
        row.closing_at = now or utcnow()
        session.add(row)
        pending = (literal(DonorStage.pending.value), *[literal(0)] * 3)
        clicked = (
            select(literal(period), Click.donor_id, *pending)
            .where(Click.period == period)
            .distinct()
        )
        donors: Any = clicked
        charity = await unspent_account(session, settings)
        if charity is not None:
            # Donors who liked nothing give their budget: every funded wallet but its own.
            funded = select(literal(period), LedgerAccount.account_id, *pending).where(
                LedgerAccount.kind == LedgerKind.donor_wallet.value,
                col(LedgerAccount.balance) > 0,
                LedgerAccount.account_id != charity,
            )
            donors = union(clicked, funded)
        table = DonorPeriod.__table__  # type: ignore[attr-defined]
        columns = ["period", "donor_id", "stage", "budget", "fee", "clicks"]
        await session.exec(insert_ignoring_duplicates(session, table).from_select(columns, donors))
        return PeriodStage.closing.value


async def find_unspent_account(session: AsyncSession, settings: Settings) -> int | None:
    """The account LIKEWISE_UNSPENT_TO names, or None (not set, or no such account)."""
    if not settings.unspent_to:
        return None
    found = await session.exec(
        select(Account.id).where(Account.username == settings.unspent_username)
    )
    return found.first()


async def unspent_account(session: AsyncSession, settings: Settings) -> int | None:
    """The account given the budgets of donors who liked nothing (LIKEWISE_UNSPENT_TO),
    or None when those budgets stay in the wallets; a setting naming no account stops the
    close."""
    account = await find_unspent_account(session, settings)
    if account is None and settings.unspent_to:
        raise ValidationFailed(
            f"LIKEWISE_UNSPENT_TO names {settings.unspent_to!r}, which is no account here"
        )
    return account


async def _claim_donors(session: AsyncSession, period: str, limit: int) -> list[int]:
    query = (
        select(DonorPeriod.donor_id)
        .where(DonorPeriod.period == period, DonorPeriod.stage == DonorStage.pending)
        .order_by(col(DonorPeriod.donor_id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.exec(query)).all())


async def _click_lines(session: AsyncSession, period: str, donors: list[int]) -> list[ClickLine]:
    """The batch's clicks, in donor and click order. The claimed donors are sorted and
    nearly contiguous: the lines of their range are read, then those of others dropped."""
    lines = await click_lines(session, period, donors[0], donors[-1])
    claimed = set(donors)
    return [line for line in lines if line[DONOR] in claimed]


def unclaimed_destination(
    settings: Settings, identity: int, network: str, external_id: str, claimed_by: str = ""
) -> Unclaimed:
    """`claimed_by`: the actor of a peer whose claim of the identity holds
    (server/escrow/peer_claims.py): its shares go to that peer, for that actor."""
    if claimed_by:
        return Unclaimed(
            Owner(LedgerKind.escrow_peer, peer_domain=domain_of(claimed_by)), claimed_by
        )
    if network != "fediverse":
        return Unclaimed(Owner(LedgerKind.escrow_identity, identity_id=identity), "")
    host = domain_of(external_id)
    if host and host != settings.domain.lower():  # hosts compare case-insensitively
        return Unclaimed(Owner(LedgerKind.escrow_peer, peer_domain=host), external_id)
    return Unclaimed(Owner(LedgerKind.escrow_identity, identity_id=identity), external_id)


async def _unclaimed(
    session: AsyncSession, settings: Settings, ids: list[int]
) -> dict[int, Unclaimed]:
    return {
        identity: unclaimed_destination(settings, identity, network, external_id, claimed_by)
        for identity, network, external_id, claimed_by in await identities(session, ids)
    }


@dataclass(frozen=True)
class BatchContext:
    period: str
    fee_bps: int
    fees: int | None  # the instance fee account, when there is a fee
    wallets: dict[int, int]
    reserves: dict[int, int]
    targets: dict[int, Target]  # by identity
    stamp: object  # now, as the driver stores it
    # LIKEWISE_UNSPENT_TO: (its account, its available balance's ledger account) or None
    unspent: tuple[int, int] | None = None


async def _shared_accounts(
    db: Database, session: AsyncSession, settings: Settings, owners: set[Owner], cache: CloseCache
) -> dict[Owner, int]:
    """The accounts batches share (creators', fees). Where workers write at once, those
    still missing are created in a transaction of their own: a concurrent worker needing
    the same new account would otherwise wait for this whole batch."""
    ids = {owner: cache.accounts[owner] for owner in owners if owner in cache.accounts}
    missing = [owner for owner in owners if owner not in ids]
    if not close_tuning(db).concurrent_writers or not missing:
        ids.update(await ledger_account_ids(session, settings, missing))
        return ids
    async with db.transaction() as own:
        ids.update(await ledger_account_ids(own, settings, missing))
    return ids


async def _batch_context(
    db: Database,
    session: AsyncSession,
    settings: Settings,
    period: str,
    batch: tuple[list[int], list[ClickLine]],
    cache: CloseCache,
) -> tuple[BatchContext, CloseCache]:
    """The ledger accounts of the batch's donors and creators (created where missing);
    also returns what the cache may learn once the batch commits."""
    donors, lines = batch
    claims: dict[int, int | None] = {line[IDENTITY]: line[CLAIMED_BY] for line in lines}
    new = sorted(i for i, by in claims.items() if by is None and i not in cache.unclaimed)
    unclaimed = await _unclaimed(session, settings, new)
    claimed = {
        identity: Owner(LedgerKind.creator_available, account_id=by)
        for identity, by in claims.items()
        if by is not None
    }
    wallets = {d: Owner(LedgerKind.donor_wallet, account_id=d) for d in donors}
    reserves = {d: Owner(LedgerKind.donor_reserve, account_id=d) for d in donors}
    shared = {u.owner for u in unclaimed.values()} | set(claimed.values())
    shared |= {FEES} if settings.fee_bps else set()
    charity = await unspent_account(session, settings)
    if charity is not None:
        shared.add(Owner(LedgerKind.creator_available, account_id=charity))
    ids = await ledger_account_ids(session, settings, [*wallets.values(), *reserves.values()])
    ids.update(await _shared_accounts(db, session, settings, shared, cache))
    learnt = CloseCache(
        {
            identity: (ids[owner], (owner.peer_domain, uri) if owner.kind in ESCROWS else None)
            for identity, (owner, uri) in unclaimed.items()
        },
        {owner: ids[owner] for owner in shared},
    )
    targets = {**cache.unclaimed, **learnt.unclaimed}
    targets.update((identity, (ids[owner], None)) for identity, owner in claimed.items())
    context = BatchContext(
        period,
        settings.fee_bps,
        ids.get(FEES),
        {d: ids[owner] for d, owner in wallets.items()},
        {d: ids[owner] for d, owner in reserves.items()},
        targets,
        db_time(await session.connection(), utcnow()),
        None
        if charity is None
        else (charity, ids[Owner(LedgerKind.creator_available, account_id=charity)]),
    )
    return context, learnt


async def _budgets(
    session: AsyncSession, settings: Settings, donors: list[int], wallets: dict[int, int]
) -> dict[int, int]:
    """budget = min(monthly budget, wallet balance); 0 when paused. Wallets are locked."""
    balances = await lock_balances(session, list(wallets.values()))
    chosen = {
        choice.donor: (0 if choice.paused else choice.monthly_budget)
        for choice in await donor_choices(session, donors)
    }
    return {
        donor: max(0, min(chosen.get(donor, settings.budget_default), balances[wallets[donor]]))
        for donor in donors
    }


def plan_batch(
    context: BatchContext, donors: list[int], budgets: dict[int, int], lines: list[ClickLine]
) -> BatchPlan:
    by_donor: dict[int, list[ClickLine]] = {donor: [] for donor in donors}
    for line in lines:
        by_donor[line[DONOR]].append(line)
    plan = BatchPlan()
    for donor in donors:
        plan_donor(context, donor, budgets[donor], by_donor[donor], plan)
    return plan


def plan_donor(
    context: BatchContext, donor: int, budget: int, lines: Sequence[ClickLine], plan: BatchPlan
) -> None:
    """The transfers of one donor: wallet → reserve, fee, then one share per click, as
    rows in TRANSFER_COLUMNS' order (a hot path: a million shares, no objects between).
    A donor who liked nothing gives the budget, after the fee, to LIKEWISE_UNSPENT_TO's
    account where one is set (never to itself), else keeps it."""
    period = context.period
    prefix = donor_prefix(period, donor)
    unspent = context.unspent if not lines and context.unspent else None
    if unspent is not None and unspent[0] == donor:
        unspent = None
    spend = budget if lines or unspent else 0
    fee = fee_of(spend, context.fee_bps)
    plan.donors.append((spend, fee, len(lines), donor))
    if spend == 0:
        return
    reserve, transfers, escrow = context.reserves[donor], plan.transfers, plan.escrow
    wallet, stamp = context.wallets[donor], context.stamp
    transfers.append(
        (reserve_key(period, donor), wallet, reserve, spend, RESERVE, period, None, "", stamp)
    )
    if fee and context.fees is not None:
        transfers.append(
            (f"{prefix}:fee", reserve, context.fees, fee, FEE, period, None, "", stamp)
        )
    if unspent is not None:
        if spend > fee:
            given = (f"{prefix}:unspent", reserve, unspent[1], spend - fee, UNSPENT, period)
            transfers.append((*given, None, "", stamp))
        return
    targets = context.targets
    share_prefix = f"{prefix}:click:"
    for (click, _, identity, _), share in zip(
        lines, equal_split(spend - fee, len(lines)), strict=True
    ):
        if share == 0:
            continue
        target, held = targets[identity]
        key = f"{share_prefix}{click:012d}"
        transfers.append((key, reserve, target, share, SHARE, period, click, "", stamp))
        if held is not None:
            escrow.append((period, donor, click, identity, target, *held, share, HELD, stamp))


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


async def close_batch(
    db: Database,
    settings: Settings,
    period: str,
    size: int | None = None,
    cache: CloseCache | None = None,
) -> int:
    """Settle up to `size` pending donors (default: the database's batch size) in one
    transaction; returns how many. `cache` carries what earlier batches of the same run
    learnt."""
    cache = CloseCache() if cache is None else cache
    size = size or close_tuning(db).batch_size
    async with db.transaction() as session:
        await widen_page_cache(session)
        donors = await _claim_donors(session, period, size)
        if not donors:
            return 0
        lines = await _click_lines(session, period, donors)
        context, learnt = await _batch_context(
            db, session, settings, period, (donors, lines), cache
        )
        budgets = await _budgets(session, settings, donors, context.wallets)
        plan = plan_batch(context, donors, budgets, lines)
        await copy_rows(session, "escrow_line", ESCROW_COLUMNS, plan.escrow)
        await mark_donors_done(
            session, period, plan.donors, DONOR_DONE, context.stamp, source=DONOR_PENDING
        )
        # Last: it ends with the balance updates, whose row locks concurrent workers wait on.
        await post_rows(session, plan.transfers)
    cache.unclaimed.update(learnt.unclaimed)
    cache.accounts.update(learnt.accounts)
    return len(donors)


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
        # Its ledger must add up before the period is closed (raises, nothing kept, if not).
        await check_before_closing(session, period)
        advance(row, PeriodStage.closed)
        row.closed_at = utcnow()
        session.add(row)
        # Shares held for peers' creators go out as settlement batches (the worker sends).
        await enqueue(session, PREPARE_JOB, {}, dedupe_key=f"{PREPARE_JOB}:{period}")
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
    batch_size: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> CloseReport:
    """Run (or resume) the close of `period` to the end, `batch_size` donors a transaction
    and `workers` batches at once (defaults: the database's, `close_tuning`)."""
    tuning = close_tuning(db)
    size = batch_size or tuning.batch_size
    await start_close(db, settings, period, force=force)
    report = await close_report(db, period)
    done = report.donors_done
    cache = CloseCache()
    if progress is not None:
        progress(done, report.donors)

    async def work() -> None:
        nonlocal done
        while count := await close_batch(db, settings, period, size, cache):
            done += count
            if progress is not None:
                progress(done, report.donors)

    count = workers or tuning.workers
    with _collector_tuned():
        await _together([work for _ in range(count)])
    if done > report.donors_done:
        await refresh_escrow_statistics(db)
    await finish_close(db, period)
    return await close_report(db, period)


# Young objects are collected every this many allocations while batches are settled: the
# app's lifespan setting (server/app.py), which a close run from the command line lacks.
YOUNG_GENERATION_THRESHOLD = 10_000


@contextmanager
def _collector_tuned() -> Iterator[None]:
    """The cyclic collector as the app tunes it, for the batches: what existed before is
    frozen out of its walks, and a batch's rows in flight are rarely promoted. Untuned, a
    close of 100k clicks made several full collections, each walking every object of the
    process (~0.1 s each). What is tuned already (inside the app) is left as it is."""
    threshold = gc.get_threshold()
    raise_threshold = threshold[0] < YOUNG_GENERATION_THRESHOLD
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    if raise_threshold:
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        if raise_threshold:
            gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()


async def _together(jobs: Sequence[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run the jobs at once; the first failure cancels the others and is raised as is."""
    tasks = [asyncio.create_task(job()) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
