"""money in: wallet credits with who made them, used money forms, bank statement imports

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime

IMPORT_STATES = ("previewed", "confirmed", "cancelled")
CREDIT_STATES = ("previewed", "booked", "unmatched", "assigned", "duplicate", "dropped")


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def upgrade() -> None:
    op.create_table(
        "wallet_credit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("provider", String(length=32), nullable=False),
        sa.Column("reference", String(length=200), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.CheckConstraint("provider <> ''", name="wallet_credit_provider_named"),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfer.id"]),
        sa.ForeignKeyConstraint(["donor_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["admin_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transfer_id"),
    )
    op.create_index(op.f("ix_wallet_credit_donor_id"), "wallet_credit", ["donor_id"])
    op.create_index(op.f("ix_wallet_credit_created_at"), "wallet_credit", ["created_at"])
    op.create_table(
        "money_form",
        sa.Column("key", String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("action", String(length=32), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "bank_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("format", String(length=16), nullable=False),
        sa.Column("statement_id", String(length=140), nullable=False),
        sa.Column("iban", String(length=34), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("confirmed_at", Time(), nullable=True),
        sa.CheckConstraint(_one_of("state", IMPORT_STATES), name="bank_import_state_valid"),
        sa.CheckConstraint(
            "state <> 'confirmed' OR confirmed_at IS NOT NULL", name="bank_import_confirmed_at"
        ),
        sa.ForeignKeyConstraint(["admin_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "bank_credit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("entry_ref", String(length=140), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("booked_on", String(length=10), nullable=False),
        sa.Column("reference", String(length=140), nullable=False),
        sa.Column("debtor_name", String(length=140), nullable=False),
        sa.Column("debtor_iban", String(length=34), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=True),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_one_of("state", CREDIT_STATES), name="bank_credit_state_valid"),
        sa.CheckConstraint("amount > 0", name="bank_credit_amount_positive"),
        sa.CheckConstraint(
            "(state = 'booked' OR state = 'assigned') = (transfer_id IS NOT NULL)",
            name="bank_credit_booked_transfer",
        ),
        sa.ForeignKeyConstraint(["import_id"], ["bank_import.id"]),
        sa.ForeignKeyConstraint(["donor_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("import_id", "entry_ref", name="uq_bank_credit_import_entry"),
    )
    op.create_index(op.f("ix_bank_credit_import_id"), "bank_credit", ["import_id"])
    op.create_index(op.f("ix_bank_credit_entry_ref"), "bank_credit", ["entry_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bank_credit_entry_ref"), table_name="bank_credit")
    op.drop_index(op.f("ix_bank_credit_import_id"), table_name="bank_credit")
    op.drop_table("bank_credit")
    op.drop_table("bank_import")
    op.drop_table("money_form")
    op.drop_index(op.f("ix_wallet_credit_created_at"), table_name="wallet_credit")
    op.drop_index(op.f("ix_wallet_credit_donor_id"), table_name="wallet_credit")
    op.drop_table("wallet_credit")
