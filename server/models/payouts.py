"""Escrowed shares, creators' payouts and the SEPA batches they leave in."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class EscrowState(enum.StrEnum):
    held = "held"
    offered = "offered"  # in a settlement batch awaiting the peer's receipt
    claimed = "claimed"
    returned = "returned"
    settled = "settled"


class EscrowLine(SQLModel, table=True):
    """One click's share set aside: for an unclaimed identity, or for a peer's creator
    (peer_domain set; the settlement service sends those).

    A line is the detail of its click's `close_share` transfer, written in the same
    transaction. Its account, identity and ledger-account columns carry no foreign keys:
    the transfer's own keys already guard the money, nothing deletes the rows they name,
    and on PostgreSQL three more checks a row were a quarter of the database's work in a
    million-click close.
    `likewise ledger check` verifies every line against its transfer and those rows."""

    __tablename__ = "escrow_line"
    __table_args__ = (
        CheckConstraint("amount > 0", name="escrow_amount_positive"),
        Index("ix_escrow_line_peer_state", "peer_domain", "state"),
        # Only lines offered to a peer have one: the close writes none into this index.
        Index(
            "ix_escrow_line_settlement_id",
            "settlement_id",
            postgresql_where=text("settlement_id IS NOT NULL"),
            sqlite_where=text("settlement_id IS NOT NULL"),
        ),
        Index("ix_escrow_line_state_created", "state", "created_at"),  # the hourly expiry
        CheckConstraint(in_enum("state", EscrowState), name="escrow_line_state_valid"),
        # Only offered and settled lines name a batch.
        CheckConstraint(
            "state IN ('offered', 'settled') OR settlement_id IS NULL",
            name="escrow_line_batch_unnamed",
        ),
        # Claimed, returned and settled lines are resolved, and say when.
        CheckConstraint(
            "state IN ('held', 'offered') OR resolved_at IS NOT NULL",
            name="escrow_line_resolved_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7)
    donor_id: int
    click_id: int
    identity_id: int
    ledger_account_id: int = Field(index=True)
    peer_domain: str = Field(default="", max_length=255)
    creator_uri: str = Field(default="", max_length=2048)
    settlement_id: int | None = Field(default=None, foreign_key="settlement.id")
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: EscrowState = Field(default=EscrowState.held, sa_type=enum_type(EscrowState))
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class PayoutState(enum.StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    in_flight = "in_flight"
    paid = "paid"


class Payout(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("amount > 0", name="payout_amount_positive"),
        CheckConstraint(in_enum("state", PayoutState), name="payout_state_valid"),
        # Every payout past its request was decided; one in a batch names it; a paid one
        # says when.
        CheckConstraint("state = 'requested' OR decided_at IS NOT NULL", name="payout_decided_at"),
        CheckConstraint(
            "state NOT IN ('in_flight', 'paid') OR batch_id IS NOT NULL", name="payout_batch_named"
        ),
        CheckConstraint("state <> 'paid' OR paid_at IS NOT NULL", name="payout_paid_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    iban: str = Field(max_length=34)
    bic: str = Field(default="", max_length=11)
    name: str = Field(max_length=70)
    state: PayoutState = Field(
        default=PayoutState.requested, sa_type=enum_type(PayoutState), index=True
    )
    batch_id: int | None = Field(default=None, foreign_key="payout_batch.id", index=True)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
    paid_at: datetime | None = None


class PayoutBatch(SQLModel, table=True):
    __tablename__ = "payout_batch"

    id: int | None = Field(default=None, primary_key=True)
    format: str = Field(default="sepa", max_length=16)
    message_id: str = Field(default="", max_length=64)
    document: str = Field(default="", sa_type=Text)
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None
