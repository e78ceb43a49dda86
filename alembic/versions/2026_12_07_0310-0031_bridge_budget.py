"""bridge_budget: what X's monthly requests and YouTube's daily quota units gave out

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 03:10:00

One row per network and period ("2026-12", the Pacific date "2026-12-07"), taken from by a
conditional UPDATE so that every worker spends from one budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | Sequence[str] | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridge_budget",
        sa.Column("network", sa.String(length=32), primary_key=True),
        sa.Column("period", sa.String(length=16), primary_key=True),
        sa.Column("used", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bridge_budget")
