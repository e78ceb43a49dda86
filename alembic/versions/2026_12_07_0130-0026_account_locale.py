"""an account's interface language, chosen at sign-up from an app

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(
            sa.Column("locale", AutoString(length=16), nullable=False, server_default="")
        )
    with op.batch_alter_table("account") as batch:
        batch.alter_column("locale", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("locale")
