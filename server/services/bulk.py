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
    session: AsyncSession, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    if not rows:
        return
    connection = await session.connection()
    marks = ", ".join(placeholders(connection, len(columns)))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    for start in range(0, len(rows), CHUNK):
        await connection.exec_driver_sql(sql, list(rows[start : start + CHUNK]))


async def add_to_balances(session: AsyncSession, deltas: Sequence[tuple[int, int]]) -> None:
    """(delta, ledger account id) pairs, applied in the given order."""
    if not deltas:
        return
    connection = await session.connection()
    delta, account = placeholders(connection, 2)
    sql = f"UPDATE ledger_account SET balance = balance + {delta} WHERE id = {account}"
    for start in range(0, len(deltas), CHUNK):
        await connection.exec_driver_sql(sql, list(deltas[start : start + CHUNK]))
