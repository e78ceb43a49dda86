"""a remote actor's profile fields and header image, shown in its Mastodon Account

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 03:50:00

Actors fetched before have none until they are fetched again or send an Update.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | Sequence[str] | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actor") as batch:
        batch.add_column(sa.Column("fields", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("header_url", sa.String(length=2048), nullable=False, server_default="")
        )
    with op.batch_alter_table("actor") as batch:
        batch.alter_column("fields", server_default=None)
        batch.alter_column("header_url", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("actor") as batch:
        batch.drop_column("header_url")
        batch.drop_column("fields")
