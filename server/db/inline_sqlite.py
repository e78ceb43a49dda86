"""SQLite connections for readers that run their statements on the event loop's own thread.

aiosqlite gives every connection a thread and hands it each call (a cursor, an execute, a
fetch, a close, the BEGIN and the ROLLBACK): a page of the home timeline made 26 such hops,
each a queue put, a wake-up of the loop through its self-pipe and a fight for the GIL, and
they cost the main thread more than the statements themselves (five statements, 1.3 ms in
all, in a request of 5 ms). A reader in WAL mode never waits for a lock (it reads the last
committed snapshot), so its statements can run where they are asked for: the loop is held
for as long as SQLite reads, which is what the thread made it wait for anyway.

Only `Database.reading(bounded=True)` uses these, on a read-only engine (`query_only`,
deferred BEGIN): a writer waits for the write lock, and must never do so on the loop's
thread, where the holder of the lock could never get on to release it; and a reader that
may scan a table (a search, a report) would hold every other request for as long.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite

# A reader should never be kept waiting (WAL), but SQLite may briefly take a lock to
# recover the WAL index after a crash: wait for it a little, not the writers' 30 s, since
# the whole event loop waits with it.
READER_BUSY_TIMEOUT_MS = 250


class _Served:
    """aiosqlite's call queue, served at once on the caller's thread."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is None:
                raise
            future.set_exception(error)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection without its thread: each call runs where it is awaited."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        # SQLAlchemy's adapter puts some calls (setting isolation_level) straight on the queue.
        self._tx = _Served()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:  # no thread started
        return self._connect().__await__()

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def inline_creator(path: str) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: inline connections to the file `path`,
    or aiosqlite's threaded ones while the database is not in WAL mode (a file system
    without shared memory keeps SQLite in its rollback journal, where a reader waits for
    the writer: never on the loop's thread)."""

    async def create() -> aiosqlite.Connection:
        timeout = READER_BUSY_TIMEOUT_MS / 1000
        raw = sqlite3.connect(path, check_same_thread=False, timeout=timeout)
        try:
            mode = str(raw.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        except BaseException:
            raw.close()
            raise
        if mode != "wal":
            raw.close()
            threaded = aiosqlite.connect(path, check_same_thread=False)
            threaded._thread.daemon = True  # as SQLAlchemy's own connect does
            return await threaded
        connection = InlineConnection(lambda: raw)
        await connection
        return connection

    return create
