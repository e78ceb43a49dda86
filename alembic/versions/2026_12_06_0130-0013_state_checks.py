"""state columns hold their enum's values, and the columns each state implies are set:
a finished job says when, a paid payout names its batch and says when, a resolved escrow
line says when, a confirmed batch says when, a closed period says when... (server/states.py
declares the moves between states); ledger account and transfer kinds are their enums'

Rows written before this revision may break a rule (PostgreSQL: that constraint is then
NOT VALID; SQLite: the table is copied with CHECK constraints ignored): an instance with
such rows still migrates. Every row written from now on is checked. The columns stay
VARCHAR: no data changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _one_of(column: str, *values: str) -> str:
    """`column` holds one of `values`, spelt as equalities (server/models/base.py, in_enum):
    against an IN list of more than two values SQLite builds a temporary index per row."""
    return " OR ".join(f"{column} = '{value}'" for value in values)


# (table, constraint name, condition), as in server/models/.
CHECKS = (
    ("job", "job_state_valid", _one_of("state", "queued", "running", "done", "failed")),
    ("job", "job_running_leased", "state <> 'running' OR locked_until IS NOT NULL"),
    ("job", "job_finished_at", "state NOT IN ('done', 'failed') OR finished_at IS NOT NULL"),
    (
        "inbox_item",
        "inbox_item_state_valid",
        _one_of("state", "pending", "done", "ignored", "failed"),
    ),
    ("inbox_item", "inbox_item_processed_at", "state = 'pending' OR processed_at IS NOT NULL"),
    ("follow", "follow_state_valid", _one_of("state", "pending", "accepted", "rejected")),
    ("period", "period_stage_valid", _one_of("stage", "open", "closing", "closed")),
    ("period", "period_closing_at", "stage = 'open' OR closing_at IS NOT NULL"),
    ("period", "period_closed_at", "stage <> 'closed' OR closed_at IS NOT NULL"),
    ("donor_period", "donor_period_stage_valid", _one_of("stage", "pending", "done")),
    ("donor_period", "donor_period_closed_at", "stage <> 'done' OR closed_at IS NOT NULL"),
    (
        "ledger_account",
        "ledger_account_kind_valid",
        _one_of(
            "kind",
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
        ),
    ),
    (
        "transfer",
        "transfer_kind_valid",
        _one_of(
            "kind",
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
        ),
    ),
    (
        "escrow_line",
        "escrow_line_state_valid",
        _one_of("state", "held", "offered", "claimed", "returned", "settled"),
    ),
    (
        "escrow_line",
        "escrow_line_batch_unnamed",
        "state IN ('offered', 'settled') OR settlement_id IS NULL",
    ),
    (
        "escrow_line",
        "escrow_line_resolved_at",
        "state IN ('held', 'offered') OR resolved_at IS NOT NULL",
    ),
    (
        "payout",
        "payout_state_valid",
        _one_of("state", "requested", "approved", "rejected", "in_flight", "paid"),
    ),
    ("payout", "payout_decided_at", "state = 'requested' OR decided_at IS NOT NULL"),
    (
        "payout",
        "payout_batch_named",
        "state NOT IN ('in_flight', 'paid') OR batch_id IS NOT NULL",
    ),
    ("payout", "payout_paid_at", "state <> 'paid' OR paid_at IS NOT NULL"),
    ("creator_notice", "creator_notice_state_valid", _one_of("state", "sent", "gone")),
    ("peer", "peer_state_valid", _one_of("state", "proposed", "active", "suspended", "ended")),
    (
        "settlement",
        "settlement_state_valid",
        _one_of("state", "offered", "accepted", "refused", "paid", "confirmed"),
    ),
    ("settlement", "settlement_answered_at", "state = 'offered' OR answered_at IS NOT NULL"),
    (
        "settlement",
        "settlement_payment_unnamed",
        "state IN ('paid', 'confirmed') OR payment_id IS NULL",
    ),
    (
        "settlement",
        "settlement_confirmed_at",
        "state <> 'confirmed' OR confirmed_at IS NOT NULL",
    ),
    (
        "settlement_line",
        "settlement_line_state_valid",
        _one_of("state", "offered", "accepted", "rejected"),
    ),
    (
        "settlement_payment",
        "settlement_payment_state_valid",
        _one_of("state", "notified", "confirmed", "refused"),
    ),
    (
        "settlement_payment",
        "settlement_payment_answered_at",
        "state = 'notified' OR answered_at IS NOT NULL",
    ),
)


def _tables() -> list[str]:
    return list(dict.fromkeys(table for table, _, _ in CHECKS))


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
        for table in _tables():  # one copy of each table for all its constraints
            with op.batch_alter_table(table, recreate="always") as batch_op:
                for name, condition in ((n, c) for t, n, c in CHECKS if t == table):
                    batch_op.create_check_constraint(name, condition)
    finally:
        op.execute("PRAGMA ignore_check_constraints = OFF")


def downgrade() -> None:
    for table in _tables():
        with op.batch_alter_table(table) as batch_op:
            for name in (n for t, n, _ in CHECKS if t == table):
                batch_op.drop_constraint(name, type_="check")
