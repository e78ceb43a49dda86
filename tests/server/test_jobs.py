from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.jobs.queue import ClaimedJob, claim, enqueue
from server.jobs.worker import GiveUp, JobContext, RetryLater, Worker
from server.models import Job, JobState
from server.models.base import utcnow
from server.settings import Settings


def _worker(db: Database, settings: Settings, handlers: dict[str, Any]) -> Worker:
    return Worker(JobContext(db, settings), handlers)


async def _jobs(db: Database) -> list[Job]:
    async with db.session() as session:
        return list((await session.exec(select(Job).order_by(Job.id))).all())  # type: ignore[arg-type]


async def test_jobs_run_once_and_are_marked_done(db: Database, settings: Settings) -> None:
    seen: list[dict[str, Any]] = []

    async def handler(_: JobContext, job: ClaimedJob) -> None:
        seen.append(job.payload)

    async with db.transaction() as session:
        for n in range(5):
            await enqueue(session, "test.echo", {"n": n})
    worker = _worker(db, settings, {"test.echo": handler})
    assert await worker.drain() == 5
    assert [p["n"] for p in seen] == [0, 1, 2, 3, 4]
    assert {j.state for j in await _jobs(db)} == {JobState.done}
    assert await worker.drain() == 0


async def test_dedupe_key_enqueues_once(db: Database) -> None:
    async with db.transaction() as session:
        first = await enqueue(session, "test.echo", {}, dedupe_key="same")
        second = await enqueue(session, "test.echo", {}, dedupe_key="same")
    assert first is not None
    assert second is None
    assert len(await _jobs(db)) == 1


async def test_failures_retry_with_backoff_then_fail(db: Database, settings: Settings) -> None:
    async def broken(_: JobContext, job: ClaimedJob) -> None:
        raise ValueError("peer exploded")

    async with db.transaction() as session:
        await enqueue(session, "test.broken", {}, max_attempts=2)
    worker = _worker(db, settings, {"test.broken": broken})
    assert await worker.run_once() == 1
    [job] = await _jobs(db)
    assert job.state == JobState.queued
    assert job.run_after > utcnow() + timedelta(seconds=20)
    assert "peer exploded" in job.last_error
    assert await worker.run_once() == 0  # not due yet
    async with db.transaction() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        row.run_after = utcnow()
        session.add(row)
    assert await worker.run_once() == 1
    [job] = await _jobs(db)
    assert job.state == JobState.failed
    assert job.attempts == 2


async def test_handlers_can_ask_for_a_delay_or_give_up(db: Database, settings: Settings) -> None:
    async def later(_: JobContext, job: ClaimedJob) -> None:
        raise RetryLater("429", delay=timedelta(hours=1))

    async def never(_: JobContext, job: ClaimedJob) -> None:
        raise GiveUp("410 gone")

    async with db.transaction() as session:
        await enqueue(session, "test.later", {})
        await enqueue(session, "test.never", {})
    await _worker(db, settings, {"test.later": later, "test.never": never}).drain()
    later_job, never_job = await _jobs(db)
    assert later_job.state == JobState.queued
    assert later_job.run_after > utcnow() + timedelta(minutes=59)
    assert never_job.state == JobState.failed
    assert never_job.last_error == "410 gone"


async def test_a_crashed_workers_job_runs_again_after_its_lease(db: Database) -> None:
    async with db.transaction() as session:
        await enqueue(session, "test.echo", {})
    [taken] = await claim(db, "crashed-worker", ["test.echo"], lease=timedelta(seconds=-1))
    # The lease has already run out: another worker takes the job over.
    [retaken] = await claim(db, "healthy-worker", ["test.echo"])
    assert retaken.id == taken.id
    assert retaken.attempts == 2
    assert await claim(db, "third-worker", ["test.echo"]) == []


async def test_concurrent_workers_never_share_a_job(db: Database, settings: Settings) -> None:
    runs: list[int] = []

    async def handler(_: JobContext, job: ClaimedJob) -> None:
        runs.append(job.payload["n"])
        await asyncio.sleep(0)

    async with db.transaction() as session:
        for n in range(40):
            await enqueue(session, "test.echo", {"n": n})
    workers = [_worker(db, settings, {"test.echo": handler}) for _ in range(4)]
    for w in workers:
        w.batch = 3
    await asyncio.gather(*(w.drain() for w in workers))
    assert sorted(runs) == list(range(40))


async def test_the_app_lifespan_runs_the_worker(settings: Settings) -> None:
    from server.app import create_app
    from tests.support.lifespan import app_lifespan

    done = asyncio.Event()

    async def handler(_: JobContext, job: ClaimedJob) -> None:
        done.set()

    app: Starlette = create_app(settings.replace(run_worker=True), handlers={"test.echo": handler})
    async with app_lifespan(app):
        async with context(app).db.transaction() as session:
            await enqueue(session, "test.echo", {})
        await asyncio.wait_for(done.wait(), timeout=10)
