"""stripe_auto_top_up: the Customer and payment method a donor saved for the automatic
monthly top-up, and how many months of budget the wallet should hold (0: off)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0032"
down_revision: str | Sequence[str] | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "stripe_auto_top_up",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", String(length=255), nullable=True),
        sa.Column("payment_method_id", String(length=255), nullable=True),
        sa.Column("setup_session_id", String(length=255), nullable=True),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("saved_at", Time(), nullable=True),
        sa.Column("updated_at", Time(), nullable=False),
        sa.CheckConstraint("months >= 0 AND months <= 12", name="stripe_top_up_months"),
        sa.CheckConstraint(
            "payment_method_id IS NULL OR customer_id IS NOT NULL",
            name="stripe_top_up_method_customer",
        ),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("account_id"),
        sa.UniqueConstraint("customer_id"),
    )


def downgrade() -> None:
    op.drop_table("stripe_auto_top_up")
