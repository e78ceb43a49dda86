"""an unmatched bank credit may be returned: the admin sent the money back to the payer
through the bank (state `returned`, who marked it in `returned_by` and when in
`returned_at`); it never reached a wallet, so nothing is booked

A downgrade keeps returned rows as they are, and an upgrade after it keeps them without
their date, as migration 0013 keeps rows a rule refuses (PostgreSQL: that CHECK is then NOT
VALID; SQLite: the table is copied with CHECK constraints ignored); the rule holds for new
rows.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0035"
down_revision: str | Sequence[str] | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time = sqlmodel.sql.sqltypes.UTCDateTime

STATES = ("previewed", "booked", "unmatched", "assigned", "duplicate", "dropped", "settlement")
NEW_STATES = ("returned",)
VALID = "bank_credit_state_valid"
IMPLIED = ("bank_credit_returned_at", "state <> 'returned' OR returned_at IS NOT NULL")
FOREIGN_KEY = "fk_bank_credit_returned_by_account"


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _states(upgrade: bool) -> str:
    return _one_of("state", STATES + (NEW_STATES if upgrade else ()))


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.add_column("bank_credit", sa.Column("returned_by", sa.Integer(), nullable=True))
        op.add_column("bank_credit", sa.Column("returned_at", Time(), nullable=True))
        op.create_foreign_key(FOREIGN_KEY, "bank_credit", "account", ["returned_by"], ["id"])
        op.drop_constraint(VALID, "bank_credit", type_="check")
        op.create_check_constraint(VALID, "bank_credit", _states(True))
        astray = f"SELECT EXISTS (SELECT 1 FROM bank_credit WHERE NOT ({IMPLIED[1]}))"
        not_valid = bool(connection.execute(sa.text(astray)).scalar())
        op.create_check_constraint(
            IMPLIED[0], "bank_credit", IMPLIED[1], postgresql_not_valid=not_valid
        )
        return
    op.execute("PRAGMA ignore_check_constraints = ON")
    try:
        with op.batch_alter_table("bank_credit", recreate="always") as batch_op:
            batch_op.add_column(sa.Column("returned_by", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("returned_at", Time(), nullable=True))
            batch_op.create_foreign_key(FOREIGN_KEY, "account", ["returned_by"], ["id"])
            batch_op.drop_constraint(VALID, type_="check")
            batch_op.create_check_constraint(VALID, _states(True))
            batch_op.create_check_constraint(IMPLIED[0], IMPLIED[1])
    finally:
        op.execute("PRAGMA ignore_check_constraints = OFF")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        astray = f"SELECT EXISTS (SELECT 1 FROM bank_credit WHERE NOT ({_states(False)}))"
        not_valid = bool(connection.execute(sa.text(astray)).scalar())
        op.drop_constraint(IMPLIED[0], "bank_credit", type_="check")
        op.drop_constraint(VALID, "bank_credit", type_="check")
        op.create_check_constraint(
            VALID, "bank_credit", _states(False), postgresql_not_valid=not_valid
        )
        op.drop_constraint(FOREIGN_KEY, "bank_credit", type_="foreignkey")
        op.drop_column("bank_credit", "returned_at")
        op.drop_column("bank_credit", "returned_by")
        return
    op.execute("PRAGMA ignore_check_constraints = ON")
    try:
        with op.batch_alter_table("bank_credit", recreate="always") as batch_op:
            batch_op.drop_constraint(IMPLIED[0], type_="check")
            batch_op.drop_constraint(VALID, type_="check")
            batch_op.create_check_constraint(VALID, _states(False))
            batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
            batch_op.drop_column("returned_at")
            batch_op.drop_column("returned_by")
    finally:
        op.execute("PRAGMA ignore_check_constraints = OFF")
