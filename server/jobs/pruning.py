"""Deleting finished job rows once they are old, in short transactions.

Only `done` and `failed` rows go (no state leads out of them); a queued, running or
retrying job is never touched. A row with a dedupe key goes only if the caller's
`Retention` says its key family may: the row *is* the key, and deleting it lets the same
key be enqueued again. Which families may go is the caller's decision (see
server/donations/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_
from sqlmodel import col, select

from server.db.engine import Database
from server.models import Job, JobState
from server.models.base import utcnow

PRUNE_CHUNK = 1000  # rows per transaction
PRUNE_MAX_ROWS = 200_000  # per call: a backlog goes over several runs, each one short


@dataclass(frozen=True)
class Retention:
    done: timedelta  # how long a finished job's row stays
    failed: timedelta  # how long a failed one's stays (admins look at failures)
    keys: tuple[str, ...] = ()  # dedupe-key prefixes whose rows may go; other keys stay
    kept: tuple[str, ...] = ()  # prefixes that stay even so


@dataclass(frozen=True)
class PruneReport:
    done: int = 0
    failed: int = 0
    more: bool = False  # stopped at the per-call limit: old rows are left for the next call

    @property
    def total(self) -> int:
        return self.done + self.failed


def _starts_with(prefix: str) -> Any:
    # Not LIKE: SQLite's ignores case, and a prefix would need its wildcards escaped.
    return func.substr(col(Job.dedupe_key), 1, len(prefix)) == prefix


def _prunable_key(retention: Retention) -> Any:
    no_key = col(Job.dedupe_key).is_(None)
    if not retention.keys:
        return no_key
    may_go = or_(*map(_starts_with, retention.keys))
    if retention.kept:
        may_go = and_(may_go, ~or_(*map(_starts_with, retention.kept)))
    return or_(no_key, may_go)


async def _prune_chunk(
    db: Database, state: JobState, cutoff: datetime, retention: Retention, size: int
) -> int:
    finished = (col(Job.state) == state, col(Job.finished_at) < cutoff)
    # A job is claimed only once its run_after has come and finishes after that, so
    # run_after <= finished_at: the bound on run_after lets the claim index (state,
    # run_after) find the old rows, without an index on finished_at to keep up.
    ids = (
        select(Job.id)
        .where(*finished, col(Job.run_after) < cutoff, _prunable_key(retention))
        .order_by(col(Job.run_after))
        .limit(size)
        # PostgreSQL: concurrent pruners skip each other's rows. SQLite renders no lock
        # (its write lock, taken at BEGIN, already keeps them apart).
        .with_for_update(skip_locked=True)
    )
    # Two statements, not DELETE … IN (subquery): PostgreSQL may run a locking subquery
    # again for the join and delete past its LIMIT.
    async with db.transaction() as session:
        found = list((await session.exec(ids)).all())
        if not found:
            return 0
        result = await session.exec(delete(Job).where(col(Job.id).in_(found), *finished))
    return int(result.rowcount)


async def prune_jobs(
    db: Database,
    retention: Retention,
    *,
    now: datetime | None = None,
    chunk: int = PRUNE_CHUNK,
    max_rows: int = PRUNE_MAX_ROWS,
) -> PruneReport:
    """Delete done rows finished before `retention.done` ago and failed ones before
    `retention.failed` ago, `chunk` rows per transaction, at most `max_rows` in all."""
    now = now or utcnow()
    counts: dict[JobState, int] = {}
    left = max_rows
    for state, age in ((JobState.done, retention.done), (JobState.failed, retention.failed)):
        counts[state] = 0
        while left > 0:
            size = min(chunk, left)
            deleted = await _prune_chunk(db, state, now - age, retention, size)
            counts[state] += deleted
            left -= deleted
            if deleted < size:
                break
    return PruneReport(counts[JobState.done], counts[JobState.failed], more=left <= 0)
