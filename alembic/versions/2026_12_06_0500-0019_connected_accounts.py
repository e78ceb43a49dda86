"""connected accounts on bridged networks, the likes found there, connections in progress

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime

CONNECTION_STATES = ("active", "paused", "needs_reauth", "revoked")
OUTCOMES = (
    "counted",
    "already_counted",
    "before_period",
    "self_like",
    "paused",
    "unclicked",
    "refused",
)


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def upgrade() -> None:
    op.create_table(
        "connected_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network", String(length=32), nullable=False),
        sa.Column("external_id", String(length=2048), nullable=False),
        sa.Column("handle", String(length=255), nullable=False),
        sa.Column("profile_url", String(length=2048), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("scopes", String(length=500), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_checked_at", Time(), nullable=True),
        sa.Column("last_error", String(length=500), nullable=False),
        sa.Column("next_poll_at", Time(), nullable=True),
        sa.Column("round_started_at", Time(), nullable=True),
        sa.Column("round_pages", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("likes_counted", sa.Integer(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("updated_at", Time(), nullable=False),
        sa.CheckConstraint(
            _one_of("state", CONNECTION_STATES), name="connected_account_state_valid"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "account_id", "network", "external_id", name="uq_connected_account_donor_identity"
        ),
    )
    op.create_index(op.f("ix_connected_account_account_id"), "connected_account", ["account_id"])
    op.create_index(op.f("ix_connected_account_external_id"), "connected_account", ["external_id"])
    op.create_index(
        "ix_connected_account_state_next_poll", "connected_account", ["state", "next_poll_at"]
    )
    op.create_table(
        "bridge_like",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connected_account_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network", String(length=32), nullable=False),
        sa.Column("item_id", String(length=2048), nullable=False),
        sa.Column("like_id", String(length=2048), nullable=False),
        sa.Column("item_url", String(length=2048), nullable=False),
        sa.Column("title", String(length=300), nullable=False),
        sa.Column("creator_handle", String(length=255), nullable=False),
        sa.Column("liked_at", Time(), nullable=True),
        sa.Column("first_seen_at", Time(), nullable=False),
        sa.Column("last_seen_at", Time(), nullable=False),
        sa.Column("period", String(length=7), nullable=False),
        sa.Column("click_id", sa.Integer(), nullable=True),
        sa.Column("thing_id", sa.Integer(), nullable=True),
        sa.Column("outcome", String(length=16), nullable=False),
        sa.CheckConstraint(_one_of("outcome", OUTCOMES), name="bridge_like_outcome_known"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["connected_account_id"], ["connected_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "network", "item_id", name="uq_bridge_like_donor_item"),
    )
    op.create_index(
        "ix_bridge_like_connection_seen", "bridge_like", ["connected_account_id", "first_seen_at"]
    )
    op.create_table(
        "connect_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network", String(length=32), nullable=False),
        sa.Column("handle", String(length=255), nullable=False),
        sa.Column("pending", sa.Text(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("expires_at", Time(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    op.create_index(op.f("ix_connect_attempt_account_id"), "connect_attempt", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_connect_attempt_account_id"), table_name="connect_attempt")
    op.drop_table("connect_attempt")
    op.drop_index("ix_bridge_like_connection_seen", table_name="bridge_like")
    op.drop_table("bridge_like")
    op.drop_index("ix_connected_account_state_next_poll", table_name="connected_account")
    op.drop_index(op.f("ix_connected_account_external_id"), table_name="connected_account")
    op.drop_index(op.f("ix_connected_account_account_id"), table_name="connected_account")
    op.drop_table("connected_account")
