"""Driver-level executemany for the money jobs' hot paths: rows go to the database driver
as plain tuples, without SQLAlchemy's per-row parameter processing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

CHUNK = 10_000


def placeholders(connection: AsyncConnection, count: int, start: int = 1) -> list[str]:
    if connection.dialect.name == "sqlite":
        return ["?"] * count
    return [f"${index}" for index in range(start, start + count)]


def db_time(connection: AsyncConnection, moment: datetime) -> object:
    """A timestamp as the driver stores SQLAlchemy's UTCDateTime columns."""
    utc = moment.astimezone(UTC)
    if connection.dialect.name == "sqlite":
        return utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return utc


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


async def add_to_balances(session: AsyncSession, deltas: Sequence[tuple[int, int]]) -> None:
    """(delta, ledger account id) pairs, applied in the given order."""
    if not deltas:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        sql = (
            "UPDATE ledger_account SET balance = balance + d.delta "
            "FROM unnest($1::bigint[], $2::bigint[]) AS d(delta, id) WHERE ledger_account.id = d.id"
        )
        await connection.exec_driver_sql(sql, tuple(list(c) for c in zip(*deltas, strict=True)))
        return
    delta, account = placeholders(connection, 2)
    sql = f"UPDATE ledger_account SET balance = balance + {delta} WHERE id = {account}"
    for start in range(0, len(deltas), CHUNK):
        await connection.exec_driver_sql(sql, list(deltas[start : start + CHUNK]))
