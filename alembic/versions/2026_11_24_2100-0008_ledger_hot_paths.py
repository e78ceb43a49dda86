"""ledger hot paths: transfers lose their per-row foreign keys to ledger accounts (every
posting updates the balance of each account it names and fails if one is missing; the
ledger audit checks the rest); on PostgreSQL the idempotency and account keys compare
bytewise ("C" collation) and ledger accounts leave room on their pages for in-place
balance updates

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = ("debit_id", "credit_id")
# SQLite's foreign keys have no names; batch mode names them by this convention to drop them.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
# (table, column, length) of the keys looked up and inserted in bulk.
BYTEWISE = (("transfer", "idempotency_key", 200), ("ledger_account", "key", 300))
ACCOUNT_FILLFACTOR = 50


def _name(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"transfer_{column}_fkey"  # PostgreSQL's name for an unnamed key
    return f"fk_transfer_{column}_ledger_account"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("transfer", naming_convention=SQLITE_NAMES) as batch_op:
        for column in KEYS:
            batch_op.drop_constraint(_name(dialect, column), type_="foreignkey")
    if dialect != "postgresql":
        return  # SQLite compares text bytewise already and updates rows in place
    for table, column, length in BYTEWISE:
        op.alter_column(
            table,
            column,
            type_=sa.String(length, collation="C"),
            existing_type=sa.String(length),
            existing_nullable=False,
        )
    op.execute(f"ALTER TABLE ledger_account SET (fillfactor = {ACCOUNT_FILLFACTOR})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE ledger_account RESET (fillfactor)")
        for table, column, length in BYTEWISE:
            op.alter_column(
                table,
                column,
                type_=sa.String(length),
                existing_type=sa.String(length, collation="C"),
                existing_nullable=False,
            )
    with op.batch_alter_table("transfer", naming_convention=SQLITE_NAMES) as batch_op:
        for column in KEYS:
            batch_op.create_foreign_key(_name(dialect, column), "ledger_account", [column], ["id"])
