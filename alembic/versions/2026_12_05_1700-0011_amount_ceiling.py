"""amounts and balances within the documented ceiling: a transfer moves at most, and a
ledger account holds at most (either sign), 10^15 - 1 minor units (docs/settlement.md)

Rows written before this revision may break the bound (PostgreSQL: the constraint is then
NOT VALID; SQLite: the table is copied with CHECK constraints ignored): an instance whose
books went past the ceiling still migrates, and `likewise ledger check` reports each such
row. Every row written from now on is checked.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CEILING = 10**15 - 1
# (table, constraint name, condition), as in server/models/ledger.py.
CHECKS = (
    (
        "ledger_account",
        "ledger_account_balance_ceiling",
        f"balance BETWEEN -{CEILING} AND {CEILING}",
    ),
    ("transfer", "transfer_amount_ceiling", f"amount <= {CEILING}"),
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        for table, name, condition in CHECKS:
            astray = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE NOT ({condition}))"
            # Validated when every row complies, as on a healthy instance.
            not_valid = bool(connection.execute(sa.text(astray)).scalar())
            op.create_check_constraint(name, table, condition, postgresql_not_valid=not_valid)
        return
    op.execute("PRAGMA ignore_check_constraints = ON")
    try:
        for table, name, condition in CHECKS:
            with op.batch_alter_table(table, recreate="always") as batch_op:
                batch_op.create_check_constraint(name, condition)
    finally:
        op.execute("PRAGMA ignore_check_constraints = OFF")


def downgrade() -> None:
    for table, name, _ in CHECKS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(name, type_="check")
