"""Bucketed processing (SQLite, worker in the server) gives way to arriving deliveries,
but never keeps a pending activity waiting longer than LONGEST_WAIT."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from activitypub.vocab import parse_activity
from server.db.engine import Database
from server.federation.inbox import PROCESS_JOB, InboxBatcher, InboxPost
from server.federation.processing import LONGEST_WAIT, handle_inbox_process
from server.jobs.queue import ClaimedJob
from server.jobs.worker import JobContext
from server.models import InboxItem, Job
from server.models.base import utcnow
from server.settings import Settings
from tests.support.databases import DatabaseFactory

FAN = "https://remote.test/users/fan"
NOTE = "https://elsewhere.test/notes/1"
BUCKETED = ClaimedJob(id=0, kind=PROCESS_JOB, payload={"pending": True}, attempts=1, max_attempts=5)


@pytest.fixture
async def context(settings: Settings, tmp_path: Path) -> AsyncIterator[JobContext]:
    """Bucketed processing is SQLite's: these tests run on a migrated SQLite database of
    their own, also when the suite runs against PostgreSQL."""
    url = DatabaseFactory(tmp_path, base_url=None).migrated()
    sqlite = dataclasses.replace(settings, database_url=url)
    assert sqlite.is_sqlite
    db = Database(url)
    yield JobContext(db=db, settings=sqlite)
    await db.dispose()


async def _receive(context: JobContext, n: int, age: timedelta) -> None:
    """A Like of a note that is not ours: processing marks it ignored."""
    like = {
        "id": f"https://remote.test/likes/{n}",
        "type": "Like",
        "actor": FAN,
        "object": NOTE,
    }
    async with context.db.transaction() as session:
        session.add(
            InboxItem(
                activity_id=like["id"],
                actor_uri=FAN,
                type="Like",
                body=json.dumps(like),
                received_at=utcnow() - age,
            )
        )


async def _states(context: JobContext) -> list[str]:
    async with context.db.session() as session:
        items = await session.exec(select(InboxItem).order_by(col(InboxItem.id)))
        return [item.state for item in items.all()]


async def _follow_ups(context: JobContext) -> int:
    async with context.db.session() as session:
        jobs = await session.exec(select(Job).where(Job.kind == PROCESS_JOB))
        return len(jobs.all())


async def test_processing_waits_while_deliveries_arrive(context: JobContext) -> None:
    # Given a Like stored a moment ago
    await _receive(context, 1, timedelta(0))
    # When the bucketed job runs
    await handle_inbox_process(context, BUCKETED)
    # Then it is left for the next slice, which is queued
    assert await _states(context) == ["pending"]
    assert await _follow_ups(context) == 1


async def test_processing_runs_once_the_inbox_is_quiet(context: JobContext) -> None:
    await _receive(context, 1, timedelta(seconds=2))
    await handle_inbox_process(context, BUCKETED)
    assert await _states(context) == ["ignored"]


async def test_nothing_pending_waits_longer_than_the_limit(context: JobContext) -> None:
    # Given a Like waiting for longer than the limit, while deliveries keep arriving
    await _receive(context, 1, LONGEST_WAIT + timedelta(seconds=1))
    await _receive(context, 2, timedelta(0))
    # When the bucketed job runs
    await handle_inbox_process(context, BUCKETED)
    # Then the old one is processed (and, in the same chunk, the new one)
    assert await _states(context) == ["ignored", "ignored"]


def _post(n: int) -> InboxPost:
    data = {"id": f"https://remote.test/likes/{n}", "type": "Like", "actor": FAN, "object": NOTE}
    return InboxPost(parse_activity(data), json.dumps(data))


async def test_the_group_commit_tells_new_activities_from_repeats(context: JobContext) -> None:
    # Given one Like stored already, by a batcher whose clock stands still: the first store
    # and the batch fall in one time slice, however near a slice's end the test runs
    moment = utcnow()
    batcher = InboxBatcher(context.db, bucket_seconds=1.0, now=lambda: moment)
    await batcher.store(_post(1))
    # When a batch repeats it among new ones
    results = await asyncio.gather(*(batcher.store(_post(n)) for n in (2, 1, 3, 4)))
    # Then only the repeat is told apart (not new), and one processing job covers the slice
    assert results == [True, False, True, True]
    assert len(await _states(context)) == 4
    assert await _follow_ups(context) == 1
    if batcher.task is not None:
        batcher.task.cancel()
