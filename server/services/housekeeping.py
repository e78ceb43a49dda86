"""The worker's periodic housekeeping: escrow past its time goes back to the donors, and
every ended month that is not closed yet is closed (unless LIKEWISE_AUTO_CLOSE is off).

The worker enqueues one housekeeping job per LIKEWISE_HOUSEKEEPING_MINUTES slot (see
server/jobs/schedule.py). Both steps are safe to repeat and to run twice at once: the
expiry locks the lines it returns, the close is resumable and idempotent."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select

from server.db import Database
from server.jobs.queue import ClaimedJob
from server.jobs.worker import JobContext
from server.models import Period
from server.models.base import utcnow
from server.models.clicks import PeriodStage
from server.services.amounts import format_amount
from server.services.close import CloseReport, close_period
from server.services.escrow import expire_escrow
from server.services.periods import period_of
from server.settings import Settings

HOUSEKEEPING_JOB = "housekeeping"
log = logging.getLogger("likewise.housekeeping")


@dataclass(frozen=True)
class HousekeepingReport:
    returned: int = 0
    closed: list[CloseReport] = field(default_factory=list)


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


async def run_housekeeping(db: Database, settings: Settings) -> HousekeepingReport:
    async with db.transaction() as session:
        returned = await expire_escrow(session, settings)
    if returned:
        log.info(
            "event=escrow_expired returned=%s currency=%s days=%s",
            format_amount(returned, settings),
            settings.currency,
            settings.escrow_days,
        )
    closed = []
    if settings.auto_close:
        for period in await ended_unclosed_periods(db):
            report = await close_period(db, settings, period)  # never forced
            log.info(
                "event=period_closed period=%s stage=%s donors=%s spent=%s fees=%s",
                report.period,
                report.stage,
                report.donors,
                report.spent,
                report.fees,
            )
            closed.append(report)
    return HousekeepingReport(returned, closed)


async def handle_housekeeping(context: JobContext, job: ClaimedJob) -> None:
    await run_housekeeping(context.db, context.settings)
