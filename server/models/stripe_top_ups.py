"""A donor's automatic monthly top-up through Stripe: the Customer and the payment method
saved for it (Checkout in setup mode, confirmed by the signed `setup_intent.succeeded`), and
how many months of budget the wallet should hold before each close (0: off). The charges
themselves are `stripe_checkout` rows keyed `top-up:<donor>:<month>` (one a month)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class StripeAutoTopUp(SQLModel, table=True):
    __tablename__ = "stripe_auto_top_up"
    __table_args__ = (
        CheckConstraint("months >= 0 AND months <= 12", name="stripe_top_up_months"),
        CheckConstraint(
            "payment_method_id IS NULL OR customer_id IS NOT NULL",
            name="stripe_top_up_method_customer",
        ),
    )

    account_id: int = Field(primary_key=True, foreign_key="account.id")
    customer_id: str | None = Field(default=None, max_length=255, unique=True)
    payment_method_id: str | None = Field(default=None, max_length=255)
    setup_session_id: str | None = Field(default=None, max_length=255)  # the last one started
    months: int = 0  # keep the wallet at this many months of budget; 0 is off
    saved_at: datetime | None = None  # when Stripe confirmed the payment method
    updated_at: datetime = Field(default_factory=utcnow)
