"""A transaction that enqueues a job wakes its database's worker once it commits: not
before, not on a rollback, and not another database's worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.app import create_app
from server.context import context
from server.db.engine import Database
from server.jobs.queue import ClaimedJob, claim, enqueue
from server.jobs.worker import JobContext, Worker
from server.models import Job
from server.settings import Settings
from tests.support.lifespan import app_lifespan


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_a_commit_that_enqueued_wakes_once(db: Database) -> None:
    woken = Calls()
    db.on_commit_with_jobs = woken
    async with db.transaction() as session:
        await enqueue(session, "test.echo", {"n": 1})
        await enqueue(session, "test.echo", {"n": 2})
        assert woken.count == 0  # not before the commit: the worker would find nothing
    assert woken.count == 1


async def test_a_commit_without_jobs_and_a_rollback_do_not_wake(db: Database) -> None:
    woken = Calls()
    db.on_commit_with_jobs = woken
    async with db.transaction() as session:
        await session.exec(select(Job))
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await enqueue(session, "test.echo", {})
            raise RuntimeError("abandon")
    # The session that rolled back is not marked for a later commit either.
    async with db.session() as session:
        await enqueue(session, "test.echo", {})
        await session.rollback()
        await session.exec(select(Job))
        await session.commit()
    assert woken.count == 0


async def test_a_savepoint_that_ends_keeps_the_enqueue_of_its_transaction(db: Database) -> None:
    woken = Calls()
    db.on_commit_with_jobs = woken
    async with db.transaction() as session:
        await enqueue(session, "test.echo", {})
        # A repeated dedupe key rolls its savepoint back; the first job still commits.
        await enqueue(session, "test.once", {}, dedupe_key="k")
        assert await enqueue(session, "test.once", {}, dedupe_key="k") is None
    assert woken.count == 1
    async with db.session() as session:
        assert len((await session.exec(select(Job))).all()) == 2


async def test_only_the_database_that_committed_wakes(settings: Settings, db: Database) -> None:
    other = Database(settings.database_url)
    try:
        mine, theirs = Calls(), Calls()
        db.on_commit_with_jobs, other.on_commit_with_jobs = mine, theirs
        async with db.transaction() as session:
            await enqueue(session, "test.echo", {})
        assert (mine.count, theirs.count) == (1, 0)
    finally:
        await other.dispose()


async def test_the_worker_runs_a_job_long_before_its_poll(db: Database, settings: Settings) -> None:
    done = asyncio.Event()

    async def handler(_: JobContext, job: ClaimedJob) -> None:
        done.set()

    worker = Worker(JobContext(db, settings), {"test.echo": handler}, poll_interval=3600)
    db.on_commit_with_jobs = worker.wakeup.set
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        await asyncio.sleep(0.2)  # the worker found nothing and waits for its hour-long poll
        async with db.transaction() as session:
            await enqueue(session, "test.echo", {})
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        stop.set()
        await task


async def test_an_app_wakes_its_worker_after_a_commit(settings: Settings) -> None:
    done = asyncio.Event()

    async def handler(_: JobContext, job: ClaimedJob) -> None:
        done.set()

    app: Starlette = create_app(settings.replace(run_worker=True), handlers={"test.echo": handler})
    async with app_lifespan(app):
        running = context(app)
        assert running.db.on_commit_with_jobs == running.worker.wakeup.set
        async with running.db.transaction() as session:
            await enqueue(session, "test.echo", {})
        await asyncio.wait_for(done.wait(), timeout=10)


async def test_the_queue_reads_the_clock_it_is_given(db: Database) -> None:
    def fixed() -> datetime:
        return datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)

    async with db.transaction() as session:
        job = await enqueue(session, "test.echo", {}, now=fixed)
    assert job is not None and job.run_after == fixed()
    # Not yet due by the real clock; due at the fixed time.
    assert await claim(db, "w", ["test.echo"]) == []
    claimed = await claim(db, "w", ["test.echo"], now=fixed)
    assert [c.id for c in claimed] == [job.id]
