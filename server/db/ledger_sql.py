"""The ledger's bulk statements on ledger accounts: look their ids up by key, create the
missing ones. Driver-level: the close names tens of thousands of accounts a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.bulk import fetch_where_in, insert_rows

ACCOUNT_COLUMNS = (
    "key",
    "kind",
    "currency",
    "account_id",
    "identity_id",
    "peer_domain",
    "balance",
    "created_at",
)
ACCOUNT_PG_TYPES = (
    "varchar",
    "varchar",
    "varchar",
    "bigint",
    "bigint",
    "varchar",
    "bigint",
    "timestamptz",
)
SQLITE_KEYS = 2000  # keys a statement on SQLite (one placeholder each); PostgreSQL: one array


async def account_ids_by_key(session: AsyncSession, keys: list[str]) -> dict[str, int]:
    """The ids of the ledger accounts with these keys (those that exist)."""
    rows = await fetch_where_in(
        session,
        "SELECT key, id FROM ledger_account",
        "key",
        keys,
        kind="varchar",
        sqlite_chunk=SQLITE_KEYS,
    )
    return dict(cast("list[tuple[str, int]]", rows))


async def insert_accounts(session: AsyncSession, rows: Sequence[tuple[object, ...]]) -> None:
    """Create ledger accounts, rows in ACCOUNT_COLUMNS' order; one a concurrent transaction
    created first is left as it is, not an error."""
    await insert_rows(
        session, "ledger_account", ACCOUNT_COLUMNS, rows, ACCOUNT_PG_TYPES, ignore_conflicts=True
    )
