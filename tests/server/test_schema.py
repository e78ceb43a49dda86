"""Alembic owns the schema: upgrading an empty database yields exactly the models."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

import server.models  # noqa: F401
from server.db import create_engine
from server.migrations import upgrade
from tests.support.databases import DatabaseFactory


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def _schema_differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_diff)
    finally:
        await engine.dispose()


def test_migrations_yield_the_models_schema(databases: DatabaseFactory) -> None:
    url = databases.empty()
    upgrade(url)
    assert asyncio.run(_schema_differences(url)) == []


def test_upgrade_is_idempotent(databases: DatabaseFactory) -> None:
    url = databases.migrated()
    upgrade(url)  # at head already: nothing to do, no error
