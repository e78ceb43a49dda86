"""the OAuth application a status was posted from

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("note") as batch:
        batch.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_note_application_id", "oauth_application", ["application_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("note") as batch:
        batch.drop_constraint("fk_note_application_id", type_="foreignkey")
        batch.drop_column("application_id")
