"""escrow lines checked by the ledger audit: drop their per-row account, identity and
ledger-account foreign keys (the close's transfer of each line keeps its own); the
settlement index covers only lines that have a settlement

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (column, referred table): the keys this revision drops.
KEYS = (
    ("donor_id", "account"),
    ("identity_id", "identity"),
    ("ledger_account_id", "ledger_account"),
)
# SQLite's foreign keys have no names; batch mode names them by this convention to drop them.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _name(dialect: str, column: str, referred: str) -> str:
    if dialect == "postgresql":
        return f"escrow_line_{column}_fkey"  # PostgreSQL's name for an unnamed key
    return f"fk_escrow_line_{column}_{referred}"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("escrow_line", naming_convention=SQLITE_NAMES) as batch_op:
        for column, referred in KEYS:
            batch_op.drop_constraint(_name(dialect, column, referred), type_="foreignkey")
    op.drop_index("ix_escrow_line_settlement_id", table_name="escrow_line")
    op.create_index(
        "ix_escrow_line_settlement_id",
        "escrow_line",
        ["settlement_id"],
        postgresql_where=sa.text("settlement_id IS NOT NULL"),
        sqlite_where=sa.text("settlement_id IS NOT NULL"),
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_escrow_line_settlement_id", table_name="escrow_line")
    op.create_index("ix_escrow_line_settlement_id", "escrow_line", ["settlement_id"])
    with op.batch_alter_table("escrow_line", naming_convention=SQLITE_NAMES) as batch_op:
        for column, referred in KEYS:
            batch_op.create_foreign_key(
                _name(dialect, column, referred), referred, [column], ["id"]
            )
