"""The persisted job queue: enqueue inside the caller's transaction, claim under a lease.

Enqueuing marks the session: once its transaction commits, the database wakes the worker
(see `Database.on_commit_with_jobs`), so no caller wakes it by hand.

A job is claimed by a conditional UPDATE (state and lease checked in the WHERE clause),
so two workers never run the same job; on PostgreSQL the candidate rows are picked with
SKIP LOCKED. A worker killed mid-job leaves a lease that expires, and the job runs again
(sooner when a worker starts on the same machine: server/jobs/orphans.py): handlers must
be idempotent.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database, mark_jobs_enqueued
from server.models import Job, JobState
from server.models.base import utcnow
from server.states import moving

DEFAULT_LEASE = timedelta(minutes=5)

Clock = Callable[[], datetime]  # the time now, in UTC; tests pass a fixed one


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 10,
    now: Clock = utcnow,
) -> Job | None:
    """Add a job in the caller's transaction. With a dedupe_key, a second enqueue is a no-op.
    The worker is woken once that transaction commits."""
    if dedupe_key is not None:
        existing = await session.exec(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing.first() is not None:
            return None
    job = Job(
        kind=kind,
        payload=json.dumps(dict(payload or {}), separators=(",", ":")),
        dedupe_key=dedupe_key,
        run_after=run_after or now(),
        max_attempts=max_attempts,
    )
    if dedupe_key is None:
        session.add(job)
        await session.flush()
        mark_jobs_enqueued(session)
        return job
    try:
        async with session.begin_nested():
            session.add(job)
            await session.flush()
    except IntegrityError:
        return None
    mark_jobs_enqueued(session)
    return job


def _claimable(now: datetime) -> Any:
    return or_(
        and_(
            moving(col(Job.state), JobState.queued, to=JobState.running),
            col(Job.run_after) <= now,
        ),
        and_(
            moving(col(Job.state), JobState.running, to=JobState.running),
            col(Job.locked_until) < now,
        ),
    )


async def claim(
    db: Database,
    worker_id: str,
    kinds: Iterable[str],
    *,
    limit: int = 10,
    lease: timedelta = DEFAULT_LEASE,
    now: Clock = utcnow,
) -> list[ClaimedJob]:
    kinds = list(kinds)
    at = now()
    claimed: list[ClaimedJob] = []
    async with db.transaction() as session:
        query = (
            select(Job.id)
            .where(_claimable(at), col(Job.kind).in_(kinds))
            .order_by(col(Job.run_after), col(Job.id))
            .limit(limit)
            .with_for_update(skip_locked=True)  # SQLite renders none: its write lock covers it
        )
        ids = list((await session.exec(query)).all())
        for job_id in ids:
            result = await session.exec(
                update(Job)
                .where(col(Job.id) == job_id, _claimable(at))
                .values(
                    state=JobState.running,
                    locked_until=at + lease,
                    locked_by=worker_id,
                    attempts=col(Job.attempts) + 1,
                )
                .returning(
                    col(Job.id),
                    col(Job.kind),
                    col(Job.payload),
                    col(Job.attempts),
                    col(Job.max_attempts),
                )
            )
            row = result.first()
            if row is not None:
                claimed.append(ClaimedJob(row[0], row[1], json.loads(row[2]), row[3], row[4]))
    return claimed


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 30 s, 1 min, 2 min, … capped at 6 h."""
    base = min(30 * 2 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=base * random.uniform(1.0, 1.25))


async def complete(db: Database, job: ClaimedJob, worker_id: str, *, now: Clock = utcnow) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(Job)
            .where(col(Job.id) == job.id, col(Job.locked_by) == worker_id)
            .where(moving(col(Job.state), JobState.running, to=JobState.done))
            .values(state=JobState.done, finished_at=now(), locked_until=None)
        )


async def fail(
    db: Database,
    job: ClaimedJob,
    worker_id: str,
    error: str,
    *,
    retry_in: timedelta | None = None,
    now: Clock = utcnow,
) -> None:
    """Record a failure; retry later unless attempts are used up (or retry_in says never)."""
    permanent = job.attempts >= job.max_attempts or retry_in == timedelta.max
    values: dict[str, Any] = {"last_error": error[-8000:], "locked_until": None}
    state = JobState.failed if permanent else JobState.queued
    if permanent:
        values.update(state=state, finished_at=now())
    else:
        values.update(state=state, run_after=now() + (retry_in or retry_delay(job.attempts)))
    async with db.transaction() as session:
        await session.exec(
            update(Job)
            .where(col(Job.id) == job.id, col(Job.locked_by) == worker_id)
            .where(moving(col(Job.state), JobState.running, to=state))
            .values(**values)
        )


async def renew(
    db: Database,
    job_id: int,
    worker_id: str,
    lease: timedelta = DEFAULT_LEASE,
    *,
    now: Clock = utcnow,
) -> bool:
    """Extend a running job's lease; False if the job is no longer this worker's."""
    async with db.transaction() as session:
        result = await session.exec(
            update(Job)
            .where(
                col(Job.id) == job_id,
                col(Job.locked_by) == worker_id,
                col(Job.state) == JobState.running,
            )
            .values(locked_until=now() + lease)
        )
    return bool(result.rowcount == 1)
