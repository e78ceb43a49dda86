"""claims of identities that peers announce, and ours announced to peers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime

STATES = ("announced", "accepted", "contested", "refused", "withdrawn")
DIRECTIONS = ("out", "in")


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def upgrade() -> None:
    op.create_table(
        "peer_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", String(length=3), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("peer_domain", String(length=255), nullable=False),
        sa.Column("actor_uri", String(length=2048), nullable=False),
        sa.Column("method", String(length=32), nullable=False),
        sa.Column("announcement_id", String(length=2048), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("summary", String(length=500), nullable=False),
        sa.Column("moves", sa.Integer(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("updated_at", Time(), nullable=False),
        sa.CheckConstraint(_one_of("state", STATES), name="peer_claim_state_valid"),
        sa.CheckConstraint(_one_of("direction", DIRECTIONS), name="peer_claim_direction_valid"),
        sa.ForeignKeyConstraint(["identity_id"], ["identity.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("direction", "peer_domain", "identity_id", "actor_uri"),
    )
    op.create_index(op.f("ix_peer_claim_identity_id"), "peer_claim", ["identity_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_peer_claim_identity_id"), table_name="peer_claim")
    op.drop_table("peer_claim")
