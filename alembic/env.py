"""Alembic environment: runs migrations on the async engine of the configured URL."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import server.models  # noqa: F401  (fills SQLModel.metadata)
from server.db.engine import create_engine

target_metadata = SQLModel.metadata


def _url() -> str:
    url = context.config.attributes.get("database_url") or os.environ.get("LIKEWISE_DATABASE_URL")
    if not url:
        raise SystemExit("set LIKEWISE_DATABASE_URL (or run `likewise migrate --data DIR`)")
    return str(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
            # SQLite adds a constraint by copying the table: dropping the old copy of a
            # table others reference would break their foreign keys on the way. Off only
            # while migrating (it cannot change inside a transaction).
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
