"""creator notices: the monthly direct message to unclaimed fediverse creators, and the
actors who opted out of it

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "creator_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("creator_uri", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("supporters", sa.Integer(), nullable=False),
        sa.Column("returns_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["identity_id"], ["identity.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("creator_uri", "month"),
        sa.UniqueConstraint("token"),
    )
    op.create_index(
        op.f("ix_creator_notice_identity_id"), "creator_notice", ["identity_id"], unique=False
    )
    op.create_table(
        "notice_opt_out",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_uri", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("activity_id", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("actor_uri"),
    )


def downgrade() -> None:
    op.drop_table("notice_opt_out")
    op.drop_index(op.f("ix_creator_notice_identity_id"), table_name="creator_notice")
    op.drop_table("creator_notice")
