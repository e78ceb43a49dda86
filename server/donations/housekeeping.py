"""The worker's periodic housekeeping: escrow past its time goes back to the donors,
automatic Stripe top-ups are charged in the month's last days (once per donor and month,
`server.money.funding.stripe_top_up`), every ended month that is not closed yet is closed
(unless LIKEWISE_AUTO_CLOSE is off), then old finished job rows are deleted
(`job_retention`), then the month's notices to unclaimed creators are queued
(`server.escrow.notices`).

Each step runs even when an earlier one failed, so a month that cannot close (say,
LIKEWISE_UNSPENT_TO names no account) never stalls the others. A failure is logged
(`event=housekeeping_step_failed`), listed in the report, and ends the job as failed with
the reasons on its row; the next slot's job tries again. Months close oldest first: after
one fails, the later ones wait for it.

The worker enqueues one housekeeping job per LIKEWISE_HOUSEKEEPING_MINUTES slot (see
server/jobs/schedule.py). The steps are safe to repeat and to run twice at once: the
expiry locks the lines it returns, the close is resumable and idempotent, the prune
deletes only rows that stay finished."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlmodel import col, select

from server.db.engine import Database
from server.domain_errors import ServiceError
from server.donations.close import CloseReport, close_period
from server.donations.periods import period_of
from server.donations.retention import job_retention
from server.escrow.escrow import expire_escrow
from server.escrow.notices import queue_notices
from server.jobs.handler import GiveUp, JobContext, RetryLater
from server.jobs.pruning import PruneReport, prune_jobs
from server.jobs.queue import ClaimedJob
from server.models import Period
from server.models.base import utcnow
from server.models.clicks import PeriodStage
from server.money.amounts import format_amount
from server.money.funding.stripe_top_up import top_up_wallets
from server.settings import Settings
from server.social.money_notifications import notify_money

HOUSEKEEPING_JOB = "housekeeping"
log = logging.getLogger("likewise.housekeeping")
T = TypeVar("T")


@dataclass(frozen=True)
class StepFailure:
    step: str  # escrow, top_up, close, notify, prune or notices
    reason: str
    period: str = ""  # the month a failed close was for
    rule: bool = False  # a business rule refused it (a ServiceError): retrying soon won't help

    def __str__(self) -> str:
        period = f" period={self.period}" if self.period else ""
        return f"step={self.step}{period} reason={self.reason}"


@dataclass(frozen=True)
class HousekeepingReport:
    returned: int = 0
    closed: list[CloseReport] = field(default_factory=list)
    pruned: PruneReport = field(default_factory=PruneReport)
    failed: list[StepFailure] = field(default_factory=list)


def housekeeping_interval(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.housekeeping_minutes)


async def ended_unclosed_periods(db: Database, now: datetime | None = None) -> list[str]:
    """Months before the running one that are open or still closing, oldest first."""
    async with db.session() as session:
        rows = await session.exec(
            select(Period.id)
            .where(
                col(Period.stage) != PeriodStage.closed.value,
                col(Period.id) < period_of(now or utcnow()),
            )
            .order_by(col(Period.id))
        )
        return list(rows.all())


async def _step(
    failed: list[StepFailure], step: str, work: Awaitable[T], default: T, period: str = ""
) -> T:
    """`work`'s result; on failure `default`, the failure logged and added to `failed`."""
    try:
        return await work
    except Exception as error:  # one step's failure must not stall the others
        rule = isinstance(error, ServiceError)
        failure = StepFailure(step, f"{type(error).__name__}: {error}", period, rule)
        # A business rule (a setting naming no account) needs no traceback; a surprise does.
        log.error("event=housekeeping_step_failed %s", failure, exc_info=not rule)
        failed.append(failure)
        return default


async def _expire(db: Database, settings: Settings) -> int:
    async with db.transaction() as session:
        returned = await expire_escrow(session, settings)
    if returned:
        log.info(
            "event=escrow_expired returned=%s currency=%s days=%s",
            format_amount(returned, settings),
            settings.currency,
            settings.escrow_days,
        )
    return returned


async def _close_ended(
    db: Database, settings: Settings, failed: list[StepFailure]
) -> list[CloseReport]:
    closed: list[CloseReport] = []
    for period in await _step(failed, "close", ended_unclosed_periods(db), []):
        report = await _step(failed, "close", close_period(db, settings, period), None, period)
        if report is None:
            break  # months close in order: a later one waits for this one
        log.info(
            "event=period_closed period=%s stage=%s donors=%s spent=%s fees=%s",
            report.period,
            report.stage,
            report.donors,
            report.spent,
            report.fees,
        )
        closed.append(report)
    return closed


async def _queue_notices(db: Database, key: str) -> None:
    async with db.transaction() as session:
        await queue_notices(session, key)


async def run_housekeeping(
    db: Database, settings: Settings, notices_key: str | None = None
) -> HousekeepingReport:
    """Every step, each on its own (see the module's docstring); with `notices_key`, the
    notices run is asked for too (once per key)."""
    failed: list[StepFailure] = []
    returned = await _step(failed, "escrow", _expire(db, settings), 0)
    # Wallets topped up before the month closes (the signed webhook credits them).
    await _step(failed, "top_up", top_up_wallets(db, settings), None)
    closed = await _close_ended(db, settings, failed) if settings.auto_close else []
    # Donors hear what a closed month sent, creators what arrived (once each).
    await _step(failed, "notify", notify_money(db, settings), 0)
    pruned = await _step(failed, "prune", prune_old_jobs(db, settings), PruneReport())
    if notices_key is not None:
        # This month's messages to creators money waits for: a job of its own (it fetches
        # remote actors, and it retries on its own).
        await _step(failed, "notices", _queue_notices(db, notices_key), None)
    return HousekeepingReport(returned, closed, pruned, failed)


async def prune_old_jobs(db: Database, settings: Settings) -> PruneReport:
    now = utcnow()
    retention = job_retention(settings, {HOUSEKEEPING_JOB: housekeeping_interval(settings)}, now)
    pruned = await prune_jobs(db, retention, now=now)
    if pruned.total:
        log.info(
            "event=jobs_pruned done=%s failed=%s more=%s done_days=%s failed_days=%s",
            pruned.done,
            pruned.failed,
            "yes" if pruned.more else "no",
            retention.done.days,
            retention.failed.days,
        )
    return pruned


async def handle_housekeeping(context: JobContext, job: ClaimedJob) -> None:
    key = str(job.payload.get("slot", job.id))
    report = await run_housekeeping(context.db, context.settings, notices_key=key)
    if not report.failed:
        return
    reasons = "; ".join(map(str, report.failed))
    if all(failure.rule for failure in report.failed):
        # A rule refused (e.g. a setting naming no account): the next slot tries again.
        raise GiveUp(reasons)
    # A surprise (the database went away mid-close): the job's retries, with backoff, come
    # sooner than the next slot; every step is safe to run again.
    raise RetryLater(reasons)
