"""SQLite's bounded read-only sessions (`reading(bounded=True)`) run their statements on the
event loop's thread (no aiosqlite thread per connection), read the last committed snapshot
while a writer holds the write lock, and still refuse to write; other readers, a database
not in WAL mode and URLs with a query string keep aiosqlite's thread.
A SQLite file of its own in every run: PostgreSQL's readers are asyncpg's, untouched."""

from __future__ import annotations

import asyncio
import sqlite3
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


async def _driver_connection(db: Database, *, bounded: bool = True) -> object:
    async with db.reading(bounded=bounded) as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection


async def test_a_bounded_reading_session_starts_no_thread(db: Database) -> None:
    async with db.reading(bounded=True) as session:  # the pool's first connection
        await session.exec(select(Job.id))
    before = threading.active_count()
    results = await asyncio.gather(*(_driver_connection(db) for _ in range(8)))
    assert all(isinstance(found, InlineConnection) for found in results)
    assert threading.active_count() == before
    # Other readers keep aiosqlite's thread: they may scan a table, off the loop
    assert not isinstance(await _driver_connection(db, bounded=False), InlineConnection)
    # and so do the writers: a write may wait for the lock, off the loop.
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
            async with db.reading(bounded=True) as session:
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
        async with db.reading(bounded=True) as session:
            await session.exec(update(Job).values(attempts=5))
    async with db.reading() as session:
        job = (await session.exec(select(Job))).one()
    assert job.attempts == 0


async def test_a_database_not_in_wal_mode_is_read_through_the_thread(tmp_path: Path) -> None:
    # A file system without shared memory leaves SQLite in its rollback journal, where a
    # reader waits for the writer: that must not happen on the loop's thread.
    path = tmp_path / "journal.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        first = await _driver_connection(database)
        assert not isinstance(first, InlineConnection)
        # The readers' own pragmas put the file in WAL mode: the next connection is inline.
        async with database.reading(bounded=True) as held:
            await held.connection()  # the pool's threaded connection stays checked out
            assert isinstance(await _driver_connection(database), InlineConnection)
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    "address",
    [
        "sqlite+aiosqlite:///file:{dir}/uri.db?uri=true",
        "sqlite+aiosqlite:///file:{dir}/shared.db?mode=rwc&cache=shared&uri=true",
    ],
)
async def test_a_url_with_options_is_left_to_sqlalchemy(tmp_path: Path, address: str) -> None:
    database = Database(address.format(dir=tmp_path))
    try:
        assert database.bounded_engine is None
        async with database.engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        async with database.reading(bounded=True) as session:
            assert list((await session.exec(select(Job.id))).all()) == []
    finally:
        await database.dispose()
