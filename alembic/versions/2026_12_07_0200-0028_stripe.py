"""stripe: Checkout payments into wallets, webhook events handled once, wallet notices; the
ledger's new kinds (provider_fees and instance_loss accounts; provider_fee, reversal and
reversal_loss transfers) join their CHECK constraints

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime

LEDGER_KINDS = (
    "donor_wallet",
    "donor_reserve",
    "creator_pending",
    "creator_available",
    "escrow_identity",
    "escrow_peer",
    "instance_fees",
    "peer_receivable",
    "peer_payable",
    "payouts_in_flight",
    "outside_world",
)
NEW_LEDGER_KINDS = ("provider_fees", "instance_loss")
TRANSFER_KINDS = (
    "funding",
    "close_reserve",
    "close_fee",
    "close_share",
    "close_unspent",
    "escrow_return",
    "escrow_claim",
    "not_payable",
    "settlement_rejected",
    "settlement_accepted",
    "settlement_credit",
    "settlement_paid",
    "settlement_netted",
    "payout",
)
NEW_TRANSFER_KINDS = ("provider_fee", "reversal", "reversal_loss")


def _one_of(column: str, values: Sequence[str]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _kinds(upgrade: bool) -> list[tuple[str, str, str]]:
    ledger = LEDGER_KINDS + (NEW_LEDGER_KINDS if upgrade else ())
    transfer = TRANSFER_KINDS + (NEW_TRANSFER_KINDS if upgrade else ())
    return [
        ("ledger_account", "ledger_account_kind_valid", _one_of("kind", ledger)),
        ("transfer", "transfer_kind_valid", _one_of("kind", transfer)),
    ]


# (table, constraint name, condition) as the models write them now (tests compare).
KIND_CHECKS = _kinds(upgrade=True)


def _replace_kind_checks(upgrade: bool) -> None:
    """As migration 0013 does: rows a condition refuses (a downgrade past kinds in use) stay,
    and the rule holds for new rows (PostgreSQL: NOT VALID; SQLite: copied unchecked)."""
    connection = op.get_bind()
    for table, name, condition in _kinds(upgrade):
        if connection.dialect.name == "postgresql":
            astray = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE NOT ({condition}))"
            not_valid = bool(connection.execute(sa.text(astray)).scalar())
            op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(name, table, condition, postgresql_not_valid=not_valid)
            continue
        op.execute("PRAGMA ignore_check_constraints = ON")
        try:
            with op.batch_alter_table(table, recreate="always") as batch_op:
                batch_op.drop_constraint(name, type_="check")
                batch_op.create_check_constraint(name, condition)
        finally:
            op.execute("PRAGMA ignore_check_constraints = OFF")


def upgrade() -> None:
    _replace_kind_checks(upgrade=True)
    op.create_table(
        "stripe_checkout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_key", String(length=64), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("currency", String(length=3), nullable=False),
        sa.Column("session_id", String(length=255), nullable=True),
        sa.Column("session_url", String(length=2000), nullable=False),
        sa.Column("payment_intent", String(length=255), nullable=True),
        sa.Column("payment_status", String(length=32), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=True),
        sa.Column("credited_at", Time(), nullable=True),
        sa.Column("taken_back", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.CheckConstraint("amount > 0 AND fee >= 0 AND total = amount + fee", name="stripe_sums"),
        sa.CheckConstraint("taken_back >= 0 AND taken_back <= total", name="stripe_taken_back"),
        sa.CheckConstraint(
            "(credited_at IS NULL) = (transfer_id IS NULL)", name="stripe_credited_transfer"
        ),
        sa.ForeignKeyConstraint(["donor_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("form_key"),
        sa.UniqueConstraint("session_id"),
        sa.UniqueConstraint("payment_intent"),
    )
    op.create_index(op.f("ix_stripe_checkout_donor_id"), "stripe_checkout", ["donor_id"])
    op.create_table(
        "stripe_event",
        sa.Column("event_id", String(length=255), nullable=False),
        sa.Column("type", String(length=100), nullable=False),
        sa.Column("outcome", String(length=300), nullable=False),
        sa.Column("received_at", Time(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "wallet_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("message", String(length=500), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("seen_at", Time(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_wallet_notice_account_id"), "wallet_notice", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_notice_account_id"), table_name="wallet_notice")
    op.drop_table("wallet_notice")
    op.drop_table("stripe_event")
    op.drop_index(op.f("ix_stripe_checkout_donor_id"), table_name="stripe_checkout")
    op.drop_table("stripe_checkout")
    _replace_kind_checks(upgrade=False)
