"""escrow expiry index: the worker's housekeeping looks for held lines past their time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_escrow_line_state_created", "escrow_line", ["state", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_escrow_line_state_created", table_name="escrow_line")
