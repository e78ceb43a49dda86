"""notifications and media attachments

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "media_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("file_name", AutoString(length=64), nullable=False),
        sa.Column("preview_name", AutoString(length=64), nullable=False),
        sa.Column("content_type", AutoString(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("preview_width", sa.Integer(), nullable=False),
        sa.Column("preview_height", sa.Integer(), nullable=False),
        sa.Column("focus_x", sa.Float(), nullable=False),
        sa.Column("focus_y", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("blurhash", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_media_attachment_account_id"), "media_attachment", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_media_attachment_note_id"), "media_attachment", ["note_id"], unique=False
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("type", AutoString(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("dedupe_key", AutoString(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("dismissed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["actor.id"]),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index(
        "ix_notification_account_id_id", "notification", ["account_id", "id"], unique=False
    )
    op.create_index(op.f("ix_notification_actor_id"), "notification", ["actor_id"], unique=False)
    op.create_index(op.f("ix_notification_note_id"), "notification", ["note_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_note_id"), table_name="notification")
    op.drop_index(op.f("ix_notification_actor_id"), table_name="notification")
    op.drop_index("ix_notification_account_id_id", table_name="notification")
    op.drop_table("notification")
    op.drop_index(op.f("ix_media_attachment_note_id"), table_name="media_attachment")
    op.drop_index(op.f("ix_media_attachment_account_id"), table_name="media_attachment")
    op.drop_table("media_attachment")
