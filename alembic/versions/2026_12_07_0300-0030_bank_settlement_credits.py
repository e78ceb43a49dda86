"""bank credits confirm peers' payments: a statement credit whose reference and amount name
a peer's payment notice to this instance is a `settlement` credit holding that notice
(bank_credit.payment_id)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("previewed", "booked", "unmatched", "assigned", "duplicate", "dropped")
NEW_STATES = ("settlement",)
IMPLIED = ("bank_credit_settlement_payment", "state <> 'settlement' OR payment_id IS NOT NULL")
FOREIGN_KEY = "fk_bank_credit_payment_id_settlement_payment"


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _states(upgrade: bool) -> str:
    return _one_of("state", STATES + (NEW_STATES if upgrade else ()))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("bank_credit", sa.Column("payment_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            FOREIGN_KEY, "bank_credit", "settlement_payment", ["payment_id"], ["id"]
        )
        op.drop_constraint("bank_credit_state_valid", "bank_credit", type_="check")
        op.create_check_constraint("bank_credit_state_valid", "bank_credit", _states(True))
        op.create_check_constraint(IMPLIED[0], "bank_credit", IMPLIED[1])
        return
    with op.batch_alter_table("bank_credit", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("payment_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(FOREIGN_KEY, "settlement_payment", ["payment_id"], ["id"])
        batch_op.drop_constraint("bank_credit_state_valid", type_="check")
        batch_op.create_check_constraint("bank_credit_state_valid", _states(True))
        batch_op.create_check_constraint(IMPLIED[0], IMPLIED[1])


def downgrade() -> None:
    with op.batch_alter_table("bank_credit") as batch_op:
        batch_op.drop_constraint(IMPLIED[0], type_="check")
        batch_op.drop_constraint("bank_credit_state_valid", type_="check")
        batch_op.create_check_constraint("bank_credit_state_valid", _states(False))
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch_op.drop_column("payment_id")
