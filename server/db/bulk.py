"""Driver-level statements for the money jobs' hot paths: rows go to the database driver
as plain tuples, without SQLAlchemy's per-row parameter processing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

CHUNK = 10_000


def placeholders(connection: AsyncConnection, count: int, start: int = 1) -> list[str]:
    if connection.dialect.name == "sqlite":
        return ["?"] * count
    return [f"${index}" for index in range(start, start + count)]


def int_array(values: Iterable[int]) -> str:
    """Whole numbers as a PostgreSQL array literal, for a `$n::text::bigint[]` parameter.
    asyncpg encodes a list element by element, testing each against collections.abc to
    find nested arrays: for the close's hundred-thousand-id arrays that costs more than
    the statement. The server parses the literal in C."""
    return "{" + ",".join(map(str, values)) + "}"


def db_time(connection: AsyncConnection, moment: datetime) -> object:
    """A timestamp as the driver stores SQLAlchemy's UTCDateTime columns."""
    utc = moment.astimezone(UTC)
    if connection.dialect.name == "sqlite":
        return utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return utc


async def _driver(session: AsyncSession) -> Any:
    """The session's own driver connection (aiosqlite or asyncpg), inside its transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if connection.dialect.name == "postgresql" and not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement.
        await connection.exec_driver_sql("SELECT 1")
    return driver


async def fetch_rows(
    session: AsyncSession, sql: str, parameters: Sequence[object] = ()
) -> list[Sequence[Any]]:
    """All rows of a query as the driver returns them (tuples or asyncpg records), for
    reads of a hundred thousand rows where SQLAlchemy's Row objects would cost more than
    the query."""
    driver = await _driver(session)
    if (await session.connection()).dialect.name == "postgresql":
        return list(await driver.fetch(sql, *parameters))
    cursor = await driver.execute(sql, tuple(parameters))
    try:
        return list(await cursor.fetchall())
    finally:
        await cursor.close()


async def fetch_where_in(
    session: AsyncSession,
    select: str,
    column: str,
    values: Sequence[object],
    *,
    kind: str = "bigint",
    sqlite_chunk: int = 2000,
) -> list[Sequence[Any]]:
    """The rows of `select` (a statement up to its WHERE) whose `column` is one of
    `values`: on PostgreSQL in one statement (an array), on SQLite `sqlite_chunk` values a
    statement (one placeholder each)."""
    connection = await session.connection()
    chunk = max(1, len(values)) if connection.dialect.name == "postgresql" else sqlite_chunk
    rows: list[Sequence[Any]] = []
    for start in range(0, len(values), chunk):
        where, parameters = id_filter(connection, column, values[start : start + chunk], kind=kind)
        rows.extend(await fetch_rows(session, f"{select} WHERE {where}", parameters))
    return rows


async def insert_rows(
    session: AsyncSession,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[object, ...]],
    pg_types: Sequence[str] = (),
    *,
    ignore_conflicts: bool = False,
) -> None:
    """INSERT many rows; on PostgreSQL (given the columns' types) as one statement over
    unnest()ed arrays, which is several times faster than executemany there."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql" and pg_types:
        arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(pg_types, start=1))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        sql += " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        for start in range(0, len(rows), CHUNK * 5):
            chunk = rows[start : start + CHUNK * 5]
            await connection.exec_driver_sql(sql, tuple(list(c) for c in zip(*chunk, strict=True)))
        return
    marks = ", ".join(placeholders(connection, len(columns)))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    sql += " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    for start in range(0, len(rows), CHUNK):
        await connection.exec_driver_sql(sql, list(rows[start : start + CHUNK]))


async def copy_rows(
    session: AsyncSession,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[object, ...]],
) -> None:
    """INSERT many rows, none of which may conflict: COPY on PostgreSQL (each value must
    be of its column's Python type: int, str, aware datetime), executemany on SQLite."""
    if not rows:
        return
    if (await session.connection()).dialect.name == "postgresql":
        driver = await _driver(session)
        await driver.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    await insert_rows(session, table, columns, rows)


class MissingAccount(RuntimeError):
    """A posting named a ledger account that does not exist: a bug, never user input."""


async def add_to_balances(session: AsyncSession, deltas: Mapping[int, int]) -> None:
    """Add each delta to its ledger account's balance (a delta may be 0: the account must
    still exist). Raises MissingAccount, leaving the transaction to be rolled back, when
    one of the accounts does not exist: transfers have no per-row foreign keys, this check
    stands in for them once per account instead of twice per transfer.

    On PostgreSQL the rows are locked first, in id order: one UPDATE … FROM unnest() locks
    them in whatever order its join takes, which deadlocks against a concurrent bulk
    posting. The lock joins the ids rather than testing `id = ANY(array)`: a row a
    concurrent posting has just updated is rechecked against its condition, and
    rechecking that one scans the whole array."""
    if not deltas:
        return
    ids = sorted(deltas)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        lock = (
            "SELECT count(*) FROM (SELECT account.id FROM ledger_account AS account "
            "JOIN unnest($1::text::bigint[]) AS wanted(id) ON account.id = wanted.id "
            "ORDER BY account.id FOR NO KEY UPDATE OF account) AS locked"
        )
        literal = int_array(ids)
        updated = (await connection.exec_driver_sql(lock, (literal,))).scalar_one()
        moved = [account for account in ids if deltas[account]]
        if updated == len(ids) and moved:
            # Only the accounts that change: a +0 would still write a new row version.
            sql = (
                "UPDATE ledger_account SET balance = balance + d.delta "
                "FROM unnest($1::text::bigint[], $2::text::bigint[]) AS d(delta, id) "
                "WHERE ledger_account.id = d.id"
            )
            changes = int_array(deltas[account] for account in moved)
            await connection.exec_driver_sql(sql, (changes, int_array(moved)))
    else:
        delta, account = placeholders(connection, 2)
        sql = f"UPDATE ledger_account SET balance = balance + {delta} WHERE id = {account}"
        updated = 0
        for start in range(0, len(ids), CHUNK):
            chunk = [(deltas[account], account) for account in ids[start : start + CHUNK]]
            updated += (await connection.exec_driver_sql(sql, chunk)).rowcount
    if updated != len(ids):
        raise MissingAccount(f"{len(ids) - updated} of the posting's accounts are missing")


def id_filter(
    connection: AsyncConnection,
    column: str,
    ids: Sequence[object],
    start: int = 1,
    kind: str = "bigint",
) -> tuple[str, tuple[object, ...]]:
    """`column` is one of `ids`, as SQL and its parameters (from `$start` on PostgreSQL:
    one array of `kind`; on SQLite one placeholder per id, at most 32,766 of them)."""
    if connection.dialect.name == "postgresql":
        # A list, not int_array's literal: a filter may be evaluated row by row, and with
        # it the literal's parsing.
        return f"{column} = ANY(${start}::{kind}[])", (list(ids),)
    return f"{column} IN ({', '.join(['?'] * len(ids))})", tuple(ids)
