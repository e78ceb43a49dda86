"""The inbox batcher reads time from the clock it is given: when an activity is received
and which time slice's processing job covers it. On the suite's database (SQLite's
single-writer path, or PostgreSQL's) and with or without time slices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from activitypub.vocab import parse_activity
from server.db.engine import Database
from server.federation.inbox import PROCESS_JOB, InboxBatcher, InboxPost
from server.models import InboxItem, Job

FAN = "https://remote.test/users/fan"
NOTE = "https://elsewhere.test/notes/1"
# A moment a millisecond before a whole second: the end of a one-second slice.
SLICE_END = datetime(2026, 10, 10, 12, 0, 0, 999000, tzinfo=UTC)


def _post(n: int) -> InboxPost:
    data = {"id": f"https://remote.test/likes/{n}", "type": "Like", "actor": FAN, "object": NOTE}
    return InboxPost(parse_activity(data), json.dumps(data))


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


async def _jobs(db: Database) -> list[tuple[str | None, datetime]]:
    async with db.session() as session:
        rows = await session.exec(
            select(Job.dedupe_key, Job.run_after)
            .where(Job.kind == PROCESS_JOB)
            .order_by(col(Job.id))
        )
        return [(key, run_after.astimezone(UTC)) for key, run_after in rows.all()]


async def _received(db: Database) -> list[datetime]:
    async with db.session() as session:
        rows = await session.exec(select(InboxItem.received_at).order_by(col(InboxItem.id)))
        return [moment.astimezone(UTC) for moment in rows.all()]


async def _stop(batcher: InboxBatcher) -> None:
    if batcher.task is not None:
        batcher.task.cancel()


async def test_stores_in_one_slice_share_its_job_whatever_the_wall_clock(db: Database) -> None:
    # Given a batcher whose clock stands a millisecond before the end of a slice
    batcher = InboxBatcher(db, bucket_seconds=1.0, now=Clock(SLICE_END))
    # When two activities are stored one after the other
    assert await batcher.store(_post(1)) is True
    assert await batcher.store(_post(2)) is True
    await _stop(batcher)
    # Then one job covers the slice, runs at its end, and both carry the clock's time
    slot = int(SLICE_END.timestamp()) + 1
    assert await _jobs(db) == [(f"{PROCESS_JOB}:{slot}", datetime.fromtimestamp(slot, UTC))]
    assert await _received(db) == [SLICE_END, SLICE_END]


async def test_a_store_in_the_next_slice_queues_the_next_slices_job(db: Database) -> None:
    # Given a store at the end of a slice
    clock = Clock(SLICE_END)
    batcher = InboxBatcher(db, bucket_seconds=1.0, now=clock)
    await batcher.store(_post(1))
    # When the clock passes into the next slice and another activity comes
    clock.moment = SLICE_END + timedelta(milliseconds=2)
    await batcher.store(_post(2))
    # And a repeat comes in that slice too
    assert await batcher.store(_post(2)) is False
    await _stop(batcher)
    # Then each slice has its job, and nothing more
    slot = int(SLICE_END.timestamp()) + 1
    assert [key for key, _ in await _jobs(db)] == [
        f"{PROCESS_JOB}:{slot}",
        f"{PROCESS_JOB}:{slot + 1}",
    ]


async def test_without_slices_each_batch_gets_a_job_at_the_clocks_time(db: Database) -> None:
    batcher = InboxBatcher(db, now=Clock(SLICE_END))
    assert await batcher.store(_post(1)) is True
    assert await batcher.store(_post(1)) is False
    await _stop(batcher)
    assert await _jobs(db) == [(None, SLICE_END)]
    assert await _received(db) == [SLICE_END]
