"""data-export imports: uploaded batches and the likes they held

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime

STATES = ("uploaded", "parsing", "previewed", "confirmed", "counted", "failed", "cancelled")
OUTCOMES = (
    "waiting",
    "counted",
    "already_counted",
    "before_period",
    "self_like",
    "paused",
    "unresolved",
    "refused",
)


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network", String(length=32), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("upload_path", String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("step", String(length=32), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("in_period", sa.Integer(), nullable=False),
        sa.Column("older", sa.Integer(), nullable=False),
        sa.Column("unresolved", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("creators", sa.Integer(), nullable=False),
        sa.Column("first_liked_at", Time(), nullable=True),
        sa.Column("last_liked_at", Time(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("error", String(length=500), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("updated_at", Time(), nullable=False),
        sa.CheckConstraint(_one_of("state", STATES), name="import_batch_state_valid"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_import_batch_account_id"), "import_batch", ["account_id"])
    op.create_table(
        "import_like",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network", String(length=32), nullable=False),
        sa.Column("item_id", String(length=2048), nullable=False),
        sa.Column("item_url", String(length=2048), nullable=False),
        sa.Column("title", String(length=300), nullable=False),
        sa.Column("creator_network", String(length=32), nullable=False),
        sa.Column("creator_id", String(length=2048), nullable=False),
        sa.Column("creator_handle", String(length=255), nullable=False),
        sa.Column("creator_url", String(length=2048), nullable=False),
        sa.Column("liked_at", Time(), nullable=True),
        sa.Column("outcome", String(length=16), nullable=False),
        sa.Column("period", String(length=7), nullable=False),
        sa.Column("click_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_one_of("outcome", OUTCOMES), name="import_like_outcome_known"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "network", "item_id", name="uq_import_like_donor_item"),
    )
    op.create_index(op.f("ix_import_like_batch_id"), "import_like", ["batch_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_import_like_batch_id"), table_name="import_like")
    op.drop_table("import_like")
    op.drop_index(op.f("ix_import_batch_account_id"), table_name="import_batch")
    op.drop_table("import_batch")
