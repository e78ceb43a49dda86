"""SQLite's read-only sessions run their statements on the event loop's thread (no aiosqlite
thread per connection), read the last committed snapshot while a writer holds the write
lock, and still refuse to write. A SQLite file of its own in every run: PostgreSQL's readers
are asyncpg's, untouched."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel, select, update

from server.db.engine import Database
from server.db.inline_sqlite import InlineConnection
from server.jobs.queue import enqueue
from server.models import Job


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'readers.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


async def _driver_connection(db: Database) -> object:
    async with db.reading() as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection


async def test_a_reading_session_starts_no_thread(db: Database) -> None:
    async with db.reading() as session:  # the pool's first connection
        await session.exec(select(Job.id))
    before = threading.active_count()
    results = await asyncio.gather(*(_driver_connection(db) for _ in range(8)))
    assert all(isinstance(found, InlineConnection) for found in results)
    assert threading.active_count() == before
    # The writers keep aiosqlite's thread: a write may wait for the lock, off the loop.
    async with db.transaction() as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        assert not isinstance(raw.driver_connection, InlineConnection)


async def test_a_reader_sees_the_committed_snapshot_while_a_writer_holds_the_lock(
    db: Database,
) -> None:
    async with db.transaction() as session:
        await enqueue(session, "test.echo", {"n": 1})
    writer_holds, reader_done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as session:
            await enqueue(session, "test.echo", {"n": 2})  # uncommitted while the reader reads
            writer_holds.set()
            await asyncio.wait_for(reader_done.wait(), timeout=10)

    async def reader() -> list[int | None]:
        await writer_holds.wait()
        try:
            async with db.reading() as session:
                return list((await session.exec(select(Job.id))).all())
        finally:
            reader_done.set()

    _, seen = await asyncio.gather(writer(), reader())
    assert len(seen) == 1  # the snapshot before the writer's job, read without waiting
    async with db.reading() as session:
        assert len((await session.exec(select(Job.id))).all()) == 2


async def test_a_reading_session_still_refuses_to_write(db: Database) -> None:
    async with db.transaction() as session:
        await enqueue(session, "test.echo", {"n": 1})
    with pytest.raises(OperationalError, match="readonly"):
        async with db.reading() as session:
            await session.exec(update(Job).values(attempts=5))
    async with db.reading() as session:
        job = (await session.exec(select(Job))).one()
    assert job.attempts == 0
