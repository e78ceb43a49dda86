"""OAuth applications, authorization codes, and tokens issued to applications

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "oauth_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", String(length=64), nullable=False),
        sa.Column("secret_hash", String(length=64), nullable=False),
        sa.Column("name", String(length=200), nullable=False),
        sa.Column("website", String(length=2000), nullable=False),
        sa.Column("redirect_uris", String(length=4000), nullable=False),
        sa.Column("scopes", String(length=500), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_table(
        "oauth_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", String(length=64), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", String(length=2000), nullable=False),
        sa.Column("scopes", String(length=500), nullable=False),
        sa.Column("code_challenge", String(length=128), nullable=False),
        sa.Column("code_challenge_method", String(length=10), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("expires_at", Time(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["application_id"], ["oauth_application.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(op.f("ix_oauth_code_account_id"), "oauth_code", ["account_id"])
    op.create_index(op.f("ix_oauth_code_application_id"), "oauth_code", ["application_id"])
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("refresh_hash", String(length=64), nullable=True))
        batch.create_foreign_key(
            "fk_api_token_application_id", "oauth_application", ["application_id"], ["id"]
        )
        batch.create_unique_constraint("uq_api_token_refresh_hash", ["refresh_hash"])
        batch.create_index(batch.f("ix_api_token_application_id"), ["application_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_index(batch.f("ix_api_token_application_id"))
        batch.drop_constraint("uq_api_token_refresh_hash", type_="unique")
        batch.drop_constraint("fk_api_token_application_id", type_="foreignkey")
        batch.drop_column("refresh_hash")
        batch.drop_column("application_id")
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_oauth_code_application_id"), table_name="oauth_code")
    op.drop_index(op.f("ix_oauth_code_account_id"), table_name="oauth_code")
    op.drop_table("oauth_code")
    op.drop_table("oauth_application")
