"""Statements sent straight to the driver, each in one round trip, inside the session's
transaction: on SQLite one hop to aiosqlite's thread (execute and fetch together, where
SQLAlchemy's adapter takes four: cursor, execute, fetch, close), on PostgreSQL one asyncpg
fetch. For paths that send a few statements many times a second (a page of bridged likes),
where those hops cost more than the statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession


@dataclass
class Statement:
    """SQL being written with its parameters, placeholders in the connection's style
    (`?` on SQLite, `$n` on PostgreSQL)."""

    connection: AsyncConnection
    parameters: list[object]

    @property
    def postgres(self) -> bool:
        return self.connection.dialect.name == "postgresql"

    def mark(self, value: object, cast: str = "") -> str:
        """A placeholder for `value` (cast to `cast` on PostgreSQL, where the statement
        alone does not tell its type)."""
        self.parameters.append(value)
        if not self.postgres:
            return "?"
        return f"${len(self.parameters)}" + (f"::{cast}" if cast else "")

    def marks(self, values: Sequence[object]) -> str:
        """`?, ?, …` for `values`."""
        return ", ".join(self.mark(value) for value in values)

    def rows(self, rows: Sequence[Sequence[object]], casts: Sequence[str] = ()) -> str:
        """`(?, ?), (?, ?), …`: rows for a VALUES list, in their order."""
        width = len(rows[0]) if rows else 0
        kinds = list(casts) or [""] * width
        return ", ".join(
            "("
            + ", ".join(self.mark(value, kind) for value, kind in zip(row, kinds, strict=True))
            + ")"
            for row in rows
        )


async def statement(session: AsyncSession) -> Statement:
    return Statement(await session.connection(), [])


async def run(session: AsyncSession, sql: str, built: Statement) -> list[Sequence[Any]]:
    """Run `sql` with the parameters `built` gathered; its rows (RETURNING's, for a write)."""
    connection = built.connection
    driver: Any = (await connection.get_raw_connection()).driver_connection
    if built.postgres:
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement.
            await connection.exec_driver_sql("SELECT 1")
        return list(await driver.fetch(sql, *built.parameters))
    return list(await driver.execute_fetchall(sql, tuple(built.parameters)))
