"""Periods are UTC calendar months ("2026-11"). Clicks take a shared lock on their period's
row; the close takes it exclusively to start, so no click slips in behind it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import ValidationFailed
from server.models import Period
from server.models.base import utcnow
from server.models.clicks import PeriodStage

PERIOD_PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def period_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def parse_period(text: str) -> str:
    if not PERIOD_PATTERN.fullmatch(text.strip()):
        raise ValidationFailed(f"{text!r} is not a period; write YYYY-MM, e.g. 2026-11")
    return text.strip()


def next_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def previous_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}"


def period_start(period: str) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


async def ensure_period(session: AsyncSession, period: str) -> None:
    statement = insert_ignoring_duplicates(session, Period).values(
        id=period, stage=PeriodStage.open.value
    )
    await session.exec(statement)


async def lock_period(session: AsyncSession, period: str, *, exclusive: bool) -> Period:
    await ensure_period(session, period)
    result = await session.exec(
        select(Period)
        .where(Period.id == period)
        .with_for_update(read=not exclusive)
        .execution_options(populate_existing=True)
    )
    return result.one()


async def open_period_for(session: AsyncSession, at: datetime | None) -> str:
    """The open period a click made at `at` belongs to: its month, or the first later
    month not already closing (a forced close moves later clicks to the next period)."""
    period = period_of(at or utcnow())
    while True:
        row = await lock_period(session, period, exclusive=False)
        if row.stage == PeriodStage.open:
            return period
        period = next_period(period)
