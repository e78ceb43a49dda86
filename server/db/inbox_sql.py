"""The inbox's group commit and its questions, per database. On SQLite with processing in
time slices, a batch is written on the raw single-writer thread (one thread hop a
transaction); otherwise through the engine, which tells new rows with RETURNING."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import SQLITE_DIALECT, Database, insert_or_ignore
from server.db.upsert import dialect_insert
from server.models import InboxItem, Job

Row = dict[str, object]
JobFor = Callable[[list[int]], Row]  # the processing job of the rows stored (by row id)


async def store_activities(db: Database, rows: dict[object, Row], job_for: JobFor) -> set[object]:
    """Insert the inbox rows (keyed by activity id) whose activity id is new, and, if any
    was, the processing job `job_for` makes of their row ids (ignored if its dedupe key
    is taken), in one transaction; returns the activity ids stored now."""
    table = InboxItem.__table__  # type: ignore[attr-defined]
    async with db.engine.begin() as connection:
        statement = (
            dialect_insert(connection, table)
            .on_conflict_do_nothing(index_elements=["activity_id"])
            .returning(table.c.id, table.c.activity_id)
        )
        stored = (await connection.execute(statement, list(rows.values()))).all()
        if stored:
            await _insert_job(connection, job_for([row[0] for row in stored]))
    return {row[1] for row in stored}


async def store_activities_for_slice(
    db: Database, rows: dict[object, Row], job: Row | None
) -> set[object]:
    """Insert the inbox rows whose activity id is new and, if any was, `job` (a time
    slice's processing job, which needs no row ids; None when it is committed already),
    in one transaction; returns the activity ids stored now."""
    table = InboxItem.__table__  # type: ignore[attr-defined]
    if db.is_sqlite:
        jobs = Job.__table__  # type: ignore[attr-defined]
        return await db.sqlite_writer().transaction(
            lambda connection: _store_new(
                connection, table, rows, None if job is None else (jobs, job)
            )
        )
    async with db.engine.begin() as connection:
        new = await _insert_known_new(connection, table, rows)
        if new and job is not None:
            await _insert_job(connection, job)
    return new


async def _insert_job(connection: AsyncConnection, job: Row) -> None:
    jobs = Job.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(connection, jobs).on_conflict_do_nothing(
        index_elements=["dedupe_key"]
    )
    await connection.execute(statement, [job])


async def _insert_known_new(
    connection: AsyncConnection, table: Any, rows: dict[object, Row]
) -> set[object]:
    """Look the ids up, insert the new ones. Cheaper than RETURNING row by row; exact
    with a single writer (SQLite's write lock is taken at BEGIN)."""
    query = select(table.c.activity_id).where(table.c.activity_id.in_(list(rows)))
    known = set((await connection.execute(query)).scalars().all())
    new = [row for key, row in rows.items() if key not in known]
    if new:
        await connection.execute(dialect_insert(connection, table).on_conflict_do_nothing(), new)
    return {row["activity_id"] for row in new}


def _store_new(
    connection: sqlite3.Connection,
    table: Any,
    rows: dict[object, Row],
    job: tuple[Any, Row] | None,
) -> set[object]:
    """The SQLite group commit on the writer thread: INSERT OR IGNORE, then (only if some
    were there already) the ids of the rows it inserted. The write lock is held from BEGIN
    and SQLite gives a new row the largest rowid + 1, so those are the last `inserted` rows."""
    inserted = insert_or_ignore(connection, table, list(rows.values()))
    if inserted == len(rows):
        new = set(rows)
    else:
        query = f"SELECT activity_id FROM {table.name} ORDER BY id DESC LIMIT ?"
        new = {row[0] for row in connection.execute(query, (inserted,))}
    if new and job is not None:
        insert_or_ignore(connection, job[0], [job[1]])
    return new


def _arriving(
    connection: sqlite3.Connection,
    table: Any,
    since: datetime,
    pending_since: datetime,
    pending: str,
) -> bool:
    received = table.c.received_at.type._cached_bind_processor(SQLITE_DIALECT)
    newest = f"SELECT received_at FROM {table.name} ORDER BY id DESC LIMIT 1"
    oldest = f"SELECT received_at FROM {table.name} WHERE state = ? ORDER BY id LIMIT 1"
    query = f"SELECT ({newest}) > ?, ({oldest}) > ?"
    row = connection.execute(query, (received(since), pending, received(pending_since))).fetchone()
    return bool(row[0]) and bool(row[1])


async def stored_since_and_none_waiting_since(
    db: Database, since: datetime, pending_since: datetime, pending: str
) -> bool:
    """Whether an activity was stored after `since` while the oldest in state `pending`
    came after `pending_since`. Asked on SQLite's writer thread, so it never waits for,
    nor holds up, the inbox's group commits; elsewhere (where processing is not held back
    for arriving deliveries) always False."""
    if not db.is_sqlite:
        return False
    table = InboxItem.__table__  # type: ignore[attr-defined]
    return await db.sqlite_writer().transaction(
        lambda connection: _arriving(connection, table, since, pending_since, pending)
    )


async def insert_processing_job(connection: AsyncConnection, job: Row) -> None:
    """Queue a processing job unless one with its dedupe key exists."""
    await _insert_job(connection, job)
