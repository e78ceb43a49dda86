"""Stripe Checkout payments into wallets, the webhook events already handled (each event id
once), and the notices a donor reads about money taken back from the wallet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class StripeCheckout(SQLModel, table=True):
    """One "Add money" form sent to Stripe Checkout: the donor pays `total` (the amount plus
    the processing fee); the wallet gets `amount` once Stripe's signed webhook says the
    payment succeeded (`transfer_id`, `credited_at`). `taken_back` is what refunds and
    disputes of the payment took back so far (of `total`)."""

    __tablename__ = "stripe_checkout"
    __table_args__ = (
        CheckConstraint("amount > 0 AND fee >= 0 AND total = amount + fee", name="stripe_sums"),
        CheckConstraint("taken_back >= 0 AND taken_back <= total", name="stripe_taken_back"),
        CheckConstraint(
            "(credited_at IS NULL) = (transfer_id IS NULL)", name="stripe_credited_transfer"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    form_key: str = Field(max_length=64, unique=True)  # the form as shown: one session per form
    donor_id: int = Field(foreign_key="account.id", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    session_id: str | None = Field(default=None, max_length=255, unique=True)
    session_url: str = Field(default="", max_length=2000)
    payment_intent: str | None = Field(default=None, max_length=255, unique=True)
    payment_status: str = Field(default="", max_length=32)  # as the last event said
    transfer_id: int | None = Field(default=None, foreign_key="transfer.id")
    credited_at: datetime | None = None
    taken_back: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(default_factory=utcnow)


class StripeEvent(SQLModel, table=True):
    """A webhook event handled: a redelivery of the same id does nothing."""

    __tablename__ = "stripe_event"

    event_id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    outcome: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow)


class WalletNotice(SQLModel, table=True):
    """Something the donor should read about the wallet (a refund or dispute took money
    back, the budget paused); shown on the money page until dismissed."""

    __tablename__ = "wallet_notice"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    message: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    seen_at: datetime | None = None
