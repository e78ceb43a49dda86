"""a local status's text as typed, given back when it is deleted

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 02:30:00

Statuses posted before have no source kept: their `text` reads "" when deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("note") as batch:
        batch.add_column(sa.Column("source_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("note") as batch:
        batch.alter_column("source_text", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("note") as batch:
        batch.drop_column("source_text")
