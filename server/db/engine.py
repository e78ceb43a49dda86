"""Engine and sessions. SQLite runs in WAL mode and takes the write lock at BEGIN."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.inline_sqlite import READER_BUSY_TIMEOUT_MS, inline_creator

T = TypeVar("T")

# Set in a session's `info` by whatever enqueues a job in it (server.jobs.queue), so that the
# database's `on_commit_with_jobs` runs once that transaction has committed.
JOBS_ENQUEUED = "likewise.jobs_enqueued"


# The databases whose write lock the current task holds (see Database.transaction).
_WRITING: ContextVar[frozenset[int]] = ContextVar("likewise_writing", default=frozenset())


class DatabaseURLError(Exception):
    """The configured database URL cannot be used."""


SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def check_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLError(f"database URL {url!r} is not a valid URL") from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseURLError(
            f"database URL driver {parsed.drivername!r} is not supported; use "
            + " or ".join(f"{d}://…" for d in SUPPORTED_DRIVERS)
        )
    return parsed.drivername


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool = False) -> None:
    """Own the transaction boundaries: pysqlite defers BEGIN until the first write, which
    lets read-check-write races through (two 80-cent debits on a 100-cent wallet would both
    pass their check), so BEGIN IMMEDIATE takes the write lock first. A read-only engine's
    connections refuse writes (`query_only`) and begin deferred: in WAL mode its readers
    never wait for the write lock, nor make writers wait (SQLite's busy handler sleeps up to
    100 ms a try, which made every timeline read queue behind every favourite)."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
            cursor.execute(f"PRAGMA busy_timeout={READER_BUSY_TIMEOUT_MS}")
        cursor.close()

    begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def inline_path(url: str) -> str | None:
    """The file of a plain SQLite file URL (no query string: `mode=memory`, `uri=true` and the
    like are SQLAlchemy's to interpret), which inline readers can open; None otherwise."""
    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.query or not path or ":memory:" in path or path.startswith("file:"):
        return None
    return path


def create_engine(
    url: str, *, read_only: bool = False, inline: bool = False, **kwargs: Any
) -> AsyncEngine:
    """`inline`: a read-only SQLite engine whose statements run on the loop's thread
    (server.db.inline_sqlite); only for a plain file URL (`inline_path`)."""
    driver = check_url(url)
    if driver.startswith("sqlite"):
        path = inline_path(url) if inline and read_only else None
        if path is not None:
            kwargs.setdefault("async_creator", inline_creator(path))
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, read_only=read_only)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class SQLiteWriter:
    """One thread with one raw sqlite3 connection: a write transaction is one thread hop.

    For hot paths that insert many small rows (the inbox's group commit), where the async
    engine's several hops per transaction cost more main-thread time than the work itself.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
            self._connection = connection
        return self._connection

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` inside BEGIN IMMEDIATE … COMMIT on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, work)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._pool.submit(self._close).result()
        self._pool.shutdown()


# One dialect for every caller: a column type caches its bind processor per dialect
# instance, and a new instance costs ~25 µs a column to look them up again.
SQLITE_DIALECT = sqlite_dialect.dialect()
INSERT_CHUNK = 500  # rows per statement: below SQLite's bound-parameter limit


def insert_or_ignore(
    connection: sqlite3.Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> int:
    """INSERT OR IGNORE rows, each value passed through the column type's own bind processor
    so that what is stored is exactly what the ORM would have stored; returns how many were
    inserted. One statement per INSERT_CHUNK rows: a writer thread then waits for the GIL
    (busy serving requests) once per chunk, not twice per row."""
    if not rows:
        return 0
    columns = list(rows[0])
    processors = [table.c[name].type._cached_bind_processor(SQLITE_DIALECT) for name in columns]
    values = [
        processor(row[name]) if processor else row[name]
        for row in rows
        for name, processor in zip(columns, processors, strict=True)
    ]
    names, row_marks = ", ".join(columns), "(" + ", ".join("?" for _ in columns) + ")"
    step, inserted = INSERT_CHUNK * len(columns), 0
    for start in range(0, len(values), step):
        chunk = values[start : start + step]
        marks = ", ".join(row_marks for _ in range(len(chunk) // len(columns)))
        statement = f"INSERT OR IGNORE INTO {table.name} ({names}) VALUES {marks}"
        inserted += connection.execute(statement, chunk).rowcount
    return inserted


def mark_jobs_enqueued(session: AsyncSession) -> None:
    """Say that this session's transaction queued a job: its commit wakes the worker."""
    session.info[JOBS_ENQUEUED] = True


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.is_sqlite = url.startswith("sqlite")
        # Called after a commit whose transaction enqueued a job: the app that runs a worker
        # on this database sets it to wake that worker. Per database, not per process: tests
        # run several apps, each with its own database and worker, in one process.
        self.on_commit_with_jobs: Callable[[], None] | None = None
        # A session class of this database's own, so that its listeners hear only its commits.
        session_class = type("DatabaseSession", (Session,), {})
        event.listen(session_class, "after_commit", self._after_commit)
        event.listen(session_class, "after_transaction_end", self._after_transaction_end)
        self.sessionmaker = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=session_class,
            expire_on_commit=False,
        )
        self._sqlite_writer: SQLiteWriter | None = None
        # SQLite has one writer at a time. Its busy handler makes the others sleep and retry
        # (up to 100 ms a try, newcomers overtaking), so sixteen concurrent favourites made
        # some wait seconds; this process's transactions queue here instead, first come first
        # served. Other processes (a separate worker) still meet at SQLite's busy timeout.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # SQLite: a second engine whose connections only read, in deferred transactions.
        # PostgreSQL: one whose connections read outside transactions (autocommit). At READ
        # COMMITTED each statement reads its own snapshot anyway, and a session's BEGIN and
        # ROLLBACK, and the BEGIN and ROLLBACK around the pre-ping, cost four round trips
        # where its queries are often one or two.
        self.read_engine: AsyncEngine | None = None
        self.read_sessionmaker = self.sessionmaker
        if not self.is_sqlite:
            # Sixteen kept, as on SQLite: an overflow connection is closed when it is
            # returned, so at sixteen concurrent readers a pool of ten forked a new backend
            # (and paid its log-in) for every sixth request, and those made the slow tail.
            read_kwargs = {"pool_size": 16, "max_overflow": 16, **engine_kwargs}
            self.read_engine = create_engine(url, isolation_level="AUTOCOMMIT", **read_kwargs)
            self.read_sessionmaker = async_sessionmaker(
                self.read_engine,
                class_=AsyncSession,
                sync_session_class=session_class,
                expire_on_commit=False,
            )
        if self.is_sqlite and ":memory:" not in url and url.rstrip("/") != "sqlite+aiosqlite:":
            # A connection per concurrent reader: an overflow connection is a new thread,
            # a new file handle and the pragmas again, closed as soon as it is returned.
            read_kwargs = {"pool_size": 16, "max_overflow": 16, **engine_kwargs}
            self.read_engine = create_engine(url, read_only=True, **read_kwargs)
            self.read_sessionmaker = async_sessionmaker(
                self.read_engine,
                class_=AsyncSession,
                sync_session_class=session_class,
                expire_on_commit=False,
            )
        # SQLite: readers of bounded work (a page by index, a row by key) whose statements
        # run on the loop's own thread (server.db.inline_sqlite), `reading(bounded=True)`.
        self.bounded_engine: AsyncEngine | None = None
        self.bounded_sessionmaker = self.read_sessionmaker
        if self.is_sqlite and inline_path(url) is not None:
            bounded_kwargs = {"pool_size": 16, "max_overflow": 16, **engine_kwargs}
            self.bounded_engine = create_engine(url, read_only=True, inline=True, **bounded_kwargs)
            self.bounded_sessionmaker = async_sessionmaker(
                self.bounded_engine,
                class_=AsyncSession,
                sync_session_class=session_class,
                expire_on_commit=False,
            )

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint released: the jobs are not committed until its transaction is
        if session.info.pop(JOBS_ENQUEUED, False) and self.on_commit_with_jobs is not None:
            self.on_commit_with_jobs()

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        """A root transaction rolled back: what it enqueued is gone (a savepoint's end
        leaves the mark to the transaction around it)."""
        if transaction.parent is None:
            session.info.pop(JOBS_ENQUEUED, None)

    def sqlite_writer(self) -> SQLiteWriter:
        """The raw single-writer thread (SQLite only), made on first use."""
        if not self.is_sqlite:
            raise DatabaseURLError("the raw writer exists only for SQLite")
        if self._sqlite_writer is None:
            self._sqlite_writer = SQLiteWriter(make_url(self.url).database or "")
        return self._sqlite_writer

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def reading(self, *, bounded: bool = False) -> AsyncIterator[AsyncSession]:
        """A session that only reads (SQLite refuses a write in it): for pages and API
        answers that change nothing, so they never queue for the write lock.

        `bounded`: every statement reads a bounded number of rows through an index (a page
        of a timeline, a row by its key). On SQLite they then run on the event loop's
        thread, which saves the hand-offs to aiosqlite's thread (most of such a request's
        cost) but holds every other request while SQLite reads: a search, a report or
        anything that may scan a table must not say so."""
        maker = self.bounded_sessionmaker if bounded else self.read_sessionmaker
        async with maker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        held = _WRITING.get()
        if self._write_lock is None or id(self) in held:
            async with self.sessionmaker() as session, session.begin():
                yield session
            return
        async with self._write_lock:
            token = _WRITING.set(held | {id(self)})
            try:
                async with self.sessionmaker() as session, session.begin():
                    yield session
            finally:
                _WRITING.reset(token)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._sqlite_writer is not None:
            await asyncio.to_thread(self._sqlite_writer.close)
            self._sqlite_writer = None
        for engine in (self.read_engine, self.bounded_engine):
            if engine is not None:
                await engine.dispose()
        await self.engine.dispose()
