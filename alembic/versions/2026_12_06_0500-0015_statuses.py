"""replies, mentions, hashtags, bookmarks and reblogs of statuses

A note keeps the id of the note it replies to (and that note's author) beside the URI, a
reblog is a note pointing at the one it shares, and a note has a language. Mentions,
hashtags and bookmarks are tables of their own.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _note_columns() -> None:
    with op.batch_alter_table("note") as batch:
        batch.add_column(sa.Column("in_reply_to_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("in_reply_to_author_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reblog_of_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("language", AutoString(length=16), nullable=False, server_default="")
        )
        batch.create_foreign_key("fk_note_in_reply_to_id", "note", ["in_reply_to_id"], ["id"])
        batch.create_foreign_key(
            "fk_note_in_reply_to_author_id", "actor", ["in_reply_to_author_id"], ["id"]
        )
        batch.create_foreign_key("fk_note_reblog_of_id", "note", ["reblog_of_id"], ["id"])
        batch.create_index(op.f("ix_note_in_reply_to_id"), ["in_reply_to_id"], unique=False)
        batch.create_index(op.f("ix_note_reblog_of_id"), ["reblog_of_id"], unique=False)
    with op.batch_alter_table("note") as batch:
        batch.alter_column("language", server_default=None)


def upgrade() -> None:
    _note_columns()
    op.create_table(
        "note_mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["actor.id"]),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("note_id", "actor_id"),
    )
    op.create_index(op.f("ix_note_mention_note_id"), "note_mention", ["note_id"], unique=False)
    op.create_index(op.f("ix_note_mention_actor_id"), "note_mention", ["actor_id"], unique=False)
    op.create_table(
        "note_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("name", AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("note_id", "name"),
    )
    op.create_index(op.f("ix_note_tag_note_id"), "note_tag", ["note_id"], unique=False)
    op.create_index("ix_note_tag_name_note_id", "note_tag", ["name", "note_id"], unique=False)
    op.create_table(
        "bookmark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["note_id"], ["note.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "note_id"),
    )
    op.create_index("ix_bookmark_account_id_id", "bookmark", ["account_id", "id"], unique=False)
    op.create_index(op.f("ix_bookmark_note_id"), "bookmark", ["note_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bookmark_note_id"), table_name="bookmark")
    op.drop_index("ix_bookmark_account_id_id", table_name="bookmark")
    op.drop_table("bookmark")
    op.drop_index("ix_note_tag_name_note_id", table_name="note_tag")
    op.drop_index(op.f("ix_note_tag_note_id"), table_name="note_tag")
    op.drop_table("note_tag")
    op.drop_index(op.f("ix_note_mention_actor_id"), table_name="note_mention")
    op.drop_index(op.f("ix_note_mention_note_id"), table_name="note_mention")
    op.drop_table("note_mention")
    with op.batch_alter_table("note") as batch:
        batch.drop_index(op.f("ix_note_reblog_of_id"))
        batch.drop_index(op.f("ix_note_in_reply_to_id"))
        batch.drop_constraint("fk_note_reblog_of_id", type_="foreignkey")
        batch.drop_constraint("fk_note_in_reply_to_author_id", type_="foreignkey")
        batch.drop_constraint("fk_note_in_reply_to_id", type_="foreignkey")
        batch.drop_column("language")
        batch.drop_column("reblog_of_id")
        batch.drop_column("in_reply_to_author_id")
        batch.drop_column("in_reply_to_id")
