"""profile media and fields, blocks, mutes and domain blocks

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT = sqlmodel.sql.sqltypes.AutoString
WHEN = sqlmodel.sql.sqltypes.UTCDateTime

ACCOUNT_COLUMNS = (
    ("note_source", TEXT(length=2000), ""),
    ("fields", TEXT(length=4000), "[]"),
    ("avatar_path", TEXT(length=255), ""),
    ("header_path", TEXT(length=255), ""),
    ("bot", sa.Boolean(), sa.false()),
    ("privacy", TEXT(length=16), "public"),
    ("sensitive", sa.Boolean(), sa.false()),
    ("language", TEXT(length=16), ""),
)


def _actor_relation(name: str, *extra: sa.Column[object]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        *extra,
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["actor.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "target_id"),
    )
    op.create_index(op.f(f"ix_{name}_account_id"), name, ["account_id"], unique=False)
    op.create_index(op.f(f"ix_{name}_target_id"), name, ["target_id"], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        for name, kind, default in ACCOUNT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table("account") as batch:
        for name, kind, _ in ACCOUNT_COLUMNS:
            batch.alter_column(name, existing_type=kind, server_default=None)
    _actor_relation("block", sa.Column("activity_id", TEXT(length=2048), nullable=False))
    _actor_relation("mute", sa.Column("notifications", sa.Boolean(), nullable=False))
    op.create_table(
        "domain_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain", TEXT(length=255), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "domain"),
    )
    op.create_index(op.f("ix_domain_block_account_id"), "domain_block", ["account_id"])
    op.create_index(op.f("ix_domain_block_domain"), "domain_block", ["domain"])


def downgrade() -> None:
    op.drop_index(op.f("ix_domain_block_domain"), table_name="domain_block")
    op.drop_index(op.f("ix_domain_block_account_id"), table_name="domain_block")
    op.drop_table("domain_block")
    for name in ("mute", "block"):
        op.drop_index(op.f(f"ix_{name}_target_id"), table_name=name)
        op.drop_index(op.f(f"ix_{name}_account_id"), table_name=name)
        op.drop_table(name)
    with op.batch_alter_table("account") as batch:
        for name, _, _ in reversed(ACCOUNT_COLUMNS):
            batch.drop_column(name)
