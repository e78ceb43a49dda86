"""Settlement between instances: peers, signed batches and their lines, payment notices.

Every signed document sent or received is stored as it went over the wire, so
`likewise settlements verify` can re-check its proof long after delivery.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class PeerState(enum.StrEnum):
    proposed = "proposed"
    active = "active"
    suspended = "suspended"
    ended = "ended"


class Direction(enum.StrEnum):
    outgoing = "out"
    incoming = "in"


class Peer(SQLModel, table=True):
    """A remote instance this one settles with (or proposed to, or was proposed by).

    `proposed_by` is "us" or "them"; `credit_limit` is the most either side may owe the
    other unsettled, in minor units of `currency`.
    """

    __table_args__ = (CheckConstraint(in_enum("state", PeerState), name="peer_state_valid"),)

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=255, unique=True)
    state: PeerState = Field(default=PeerState.proposed, sa_type=enum_type(PeerState))
    proposed_by: str = Field(default="us", max_length=8)
    actor_uri: str = Field(default="", max_length=2048)
    inbox: str = Field(default="", max_length=2048)
    ed25519_multibase: str = Field(default="", max_length=128)
    currency: str = Field(max_length=3)
    credit_limit: int = Field(sa_column=Column(BigInteger, nullable=False))
    proposal_uri: str = Field(default="", max_length=2048)
    proposal: str = Field(default="", sa_type=Text)
    answer: str = Field(default="", sa_type=Text)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SettlementState(enum.StrEnum):
    offered = "offered"  # signed and queued or sent; no answer yet
    accepted = "accepted"  # answered by a receipt (some lines may be rejected)
    refused = "refused"  # the whole batch was refused; its lines went back to escrow
    paid = "paid"  # covered by a payment notice awaiting confirmation
    confirmed = "confirmed"  # the payment was confirmed; creators' funds are available


class Settlement(SQLModel, table=True):
    """One signed batch between this instance and a peer for one period."""

    __table_args__ = (
        Index("ix_settlement_peer_direction_sequence", "peer_id", "direction", "sequence"),
        CheckConstraint("total > 0", name="settlement_total_positive"),
        CheckConstraint(in_enum("state", SettlementState), name="settlement_state_valid"),
        # A batch past its offer was answered; only a paid or confirmed one names a
        # payment; a confirmed one says when.
        CheckConstraint(
            "state = 'offered' OR answered_at IS NOT NULL", name="settlement_answered_at"
        ),
        CheckConstraint(
            "state IN ('paid', 'confirmed') OR payment_id IS NULL",
            name="settlement_payment_unnamed",
        ),
        CheckConstraint(
            "state <> 'confirmed' OR confirmed_at IS NOT NULL", name="settlement_confirmed_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    peer_id: int = Field(foreign_key="peer.id", index=True)
    direction: str = Field(max_length=3)
    period: str = Field(max_length=7)
    sequence: int
    currency: str = Field(max_length=3)
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    accepted_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rejected_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    state: SettlementState = Field(
        default=SettlementState.offered, sa_type=enum_type(SettlementState), index=True
    )
    document: str = Field(sa_type=Text)
    digest: str = Field(max_length=64)
    answer: str = Field(default="", sa_type=Text)
    payment_id: int | None = Field(default=None, foreign_key="settlement_payment.id")
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
    confirmed_at: datetime | None = None


class LineState(enum.StrEnum):
    offered = "offered"
    accepted = "accepted"
    rejected = "rejected"


class SettlementLineRow(SQLModel, table=True):
    """One creator's line of a batch; `account_id` is the local creator of an incoming one."""

    __tablename__ = "settlement_line"
    __table_args__ = (
        UniqueConstraint("settlement_id", "position"),
        CheckConstraint("amount > 0", name="settlement_line_amount_positive"),
        CheckConstraint(in_enum("state", LineState), name="settlement_line_state_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id")
    position: int
    creator_uri: str = Field(max_length=2048)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    identity_id: int | None = Field(default=None, foreign_key="identity.id")
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    supporters: int
    state: LineState = Field(default=LineState.offered, sa_type=enum_type(LineState))
    reason: str = Field(default="", max_length=64)


class PaymentState(enum.StrEnum):
    notified = "notified"  # the payer says the money moved; awaiting the payee
    confirmed = "confirmed"
    refused = "refused"


class SettlementPayment(SQLModel, table=True):
    """A payment notice between peers: `amount` moved off the platform settles the listed
    batches in both directions (what the payer owed, net of what it was owed)."""

    __tablename__ = "settlement_payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="settlement_payment_amount_positive"),
        CheckConstraint(in_enum("state", PaymentState), name="settlement_payment_state_valid"),
        # A confirmed or refused notice was answered, and says when.
        CheckConstraint(
            "state = 'notified' OR answered_at IS NOT NULL", name="settlement_payment_answered_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    peer_id: int = Field(foreign_key="peer.id", index=True)
    direction: str = Field(max_length=3)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str = Field(max_length=200)
    settles: str = Field(default="[]", sa_type=Text)
    state: PaymentState = Field(default=PaymentState.notified, sa_type=enum_type(PaymentState))
    document: str = Field(sa_type=Text)
    answer: str = Field(default="", sa_type=Text)
    expected: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
