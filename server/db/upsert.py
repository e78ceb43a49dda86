"""INSERT statements with ON CONFLICT clauses, in the dialect of the session or connection
that runs them (SQLAlchemy builds those clauses per dialect)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession


def dialect_insert(bind: AsyncSession | AsyncConnection, table: Any) -> Any:
    """INSERT in the dialect of `bind`, for its ON CONFLICT clauses."""
    if isinstance(bind, AsyncConnection):
        name = bind.dialect.name
    else:
        name = bind.bind.dialect.name if bind.bind is not None else "sqlite"
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring_duplicates(bind: AsyncSession | AsyncConnection, table: Any) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING in the dialect of `bind`."""
    insert: Insert = dialect_insert(bind, table).on_conflict_do_nothing()
    return insert
