"""remote notes' attachments: media_attachment rows with a remote_url and no account

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("media_attachment") as batch:
        batch.add_column(
            sa.Column("remote_url", AutoString(length=2048), nullable=False, server_default="")
        )
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("media_attachment") as batch:
        batch.alter_column("remote_url", server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM media_attachment WHERE account_id IS NULL")
    with op.batch_alter_table("media_attachment") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("remote_url")
