"""bridge_usage: each network's polls, requests, errors and rate-limit waits per day

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 01:10:00

The admin's networks page reads it, and a pay-per-read network's monthly request budget
(`[bridges.x] monthly_requests`) is counted in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridge_usage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("rate_limited", sa.Integer(), nullable=False),
        sa.UniqueConstraint("network", "day", name="uq_bridge_usage_network_day"),
    )


def downgrade() -> None:
    op.drop_table("bridge_usage")
