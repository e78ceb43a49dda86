"""Jobs the worker enqueues itself, once per time slot (housekeeping).

A slot's job carries a dedupe key naming the slot, so several workers, or one restarted,
enqueue it once, and the claim hands it to one worker. While it runs, that worker renews
its lease, so a long run (a month's close) is not taken over; if the worker dies, the lease
runs out and another worker runs the job again (scheduled handlers are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from server.db.engine import Database
from server.jobs.queue import DEFAULT_LEASE, enqueue, renew
from server.models import Job, JobState
from server.models.base import utcnow

log = logging.getLogger("likewise.worker")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ATTEMPTS = 1000  # a slot's job retries until its slot has passed, then it is skipped


def slot_key(kind: str, every: timedelta, now: datetime) -> str:
    """The dedupe key of the slot `now` falls in: slots of length `every` from the epoch.
    The length is part of the key: slots of two lengths that start at the same moment
    (after the interval is changed) are two slots."""
    start = EPOCH + (now - EPOCH) // every * every
    return f"{kind}:{int(every.total_seconds())}s:{start:%Y-%m-%dT%H:%M:%SZ}"


async def enqueue_slot(db: Database, kind: str, key: str) -> bool:
    """Enqueue the slot's job unless some worker already has; True if this call did."""
    async with db.transaction() as session:
        job = await enqueue(session, kind, {"slot": key}, dedupe_key=key, max_attempts=MAX_ATTEMPTS)
    return job is not None


async def another_running(db: Database, job_id: int, kind: str) -> bool:
    """Is another job of this kind running under a live lease?"""
    async with db.session() as session:
        found = await session.exec(
            select(Job.id)
            .where(
                Job.kind == kind,
                col(Job.state) == JobState.running,
                col(Job.id) != job_id,
                col(Job.locked_until) > utcnow(),
            )
            .limit(1)
        )
        return found.first() is not None


@asynccontextmanager
async def lease_kept(
    db: Database, job_id: int, worker_id: str, lease: timedelta = DEFAULT_LEASE
) -> AsyncIterator[None]:
    """Renew the job's lease every third of it while the block runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                await renew(db, job_id, worker_id, lease)
            except SQLAlchemyError:  # a hiccup: the next beat tries again
                log.warning("event=lease_renew_failed job=%s", job_id, exc_info=True)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
