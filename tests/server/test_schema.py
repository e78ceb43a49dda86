"""Alembic owns the schema: upgrading an empty database yields exactly the models."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlmodel import SQLModel

import server.models  # noqa: F401
from server.db.engine import create_engine
from server.db.migrations import upgrade
from tests.support.databases import DatabaseFactory

T = TypeVar("T")


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def _inspect(url: str, look: Callable[[Connection], T]) -> T:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def test_migrations_yield_the_models_schema(databases: DatabaseFactory) -> None:
    url = databases.empty()
    upgrade(url)
    assert asyncio.run(_inspect(url, _diff)) == []


def test_upgrade_is_idempotent(databases: DatabaseFactory) -> None:
    url = databases.migrated()
    upgrade(url)  # at head already: nothing to do, no error


def _ledger_hot_paths(connection: Connection) -> dict[str, object]:
    inspector = inspect(connection)
    found: dict[str, object] = {
        "transfer foreign keys": inspector.get_foreign_keys("transfer"),
        "transfer indexes": sorted(i["name"] or "" for i in inspector.get_indexes("transfer")),
    }
    if connection.dialect.name == "postgresql":
        found["collations"] = connection.execute(
            text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE (table_name, column_name) IN "
                "(('transfer', 'idempotency_key'), ('ledger_account', 'key')) ORDER BY 1"
            )
        ).all()
        found["ledger_account options"] = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'ledger_account'")
        ).scalar_one()
    return found


def test_ledger_hot_paths_schema(databases: DatabaseFactory) -> None:
    """Migration 0008: no per-row foreign keys on transfers (postings check their accounts),
    the account lookups still indexed; on PostgreSQL bytewise keys and half-filled pages."""
    url = databases.empty()
    upgrade(url)
    found = asyncio.run(_inspect(url, _ledger_hot_paths))
    assert found["transfer foreign keys"] == []
    assert {"ix_transfer_credit_id", "ix_transfer_debit_id"} <= set(found["transfer indexes"])  # type: ignore[call-overload]
    if url.startswith("postgresql"):
        assert [tuple(row) for row in found["collations"]] == [  # type: ignore[attr-defined]
            ("ledger_account", "key", "C"),
            ("transfer", "idempotency_key", "C"),
        ]
        assert found["ledger_account options"] == ["fillfactor=50"]
