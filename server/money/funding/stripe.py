"""Stripe Checkout: a donor pays an amount plus the processing fee on Stripe's page; the
wallet is credited only from Stripe's signed webhook, never from the browser's return.

- The fee is `fee_fixed + ceil(amount * fee_bps / 10000)` minor units (docs/stripe.md);
  the donor sees it before paying and pays `amount + fee`.
- Each "Add money" form makes one Checkout Session: the form's key is the row's unique key
  and Stripe's Idempotency-Key, so a double submit sends the donor to the same session.
- `POST /webhooks/stripe`: the `Stripe-Signature` header is verified by the library
  (`Webhook.construct_event`, 300 s tolerance) before anything of the body is read; each
  event id is handled once (`stripe_event`), and the credit's transfer key is the payment
  intent's id, so a payment credits once whichever event brings it.
- A paid payment books outside_world → donor_wallet (the amount, provider `stripe`) and
  outside_world → provider_fees:stripe (the fee Stripe keeps).
- A refund or dispute takes back what it names, from the wallet first (the amount part,
  up to the wallet's balance); the rest (what the donor already spent, and a refunded fee)
  is booked to the instance's loss account, and so is Stripe's dispute fee
  (stripe_books.py). When the wallet could not cover its part, the donor's budget pauses
  and the money page says why. A dispute won (`charge.dispute.funds_reinstated`, or
  `charge.dispute.closed` with status won) undoes what it booked, once per dispute, and
  resumes a budget it paused; a lost one moves nothing more.
- The automatic monthly top-up's events (a saved card, an off-session charge succeeded or
  failed) are handled by stripe_top_up.py; the API client and the event's fields are read
  by stripe_client.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import Conflict, NotFound, ValidationFailed
from server.models.base import utcnow
from server.models.stripe_payments import StripeCheckout, StripeEvent, WalletNotice
from server.money.forms import checked_form_key
from server.money.funding import stripe_books as books
from server.money.funding import stripe_top_up as top_ups
from server.money.funding.stripe_client import (
    STRIPE,
    STRIPE_ID,
    NotYet,
    Quote,
    StripeFailed,
    StripeProvider,
    WebhookRefused,
    card_payments,
    client_of,
    fee_for,
    minor_of,
    object_of,
    quote,
    refusal,
    text_of,
)
from server.settings import Settings, StripeConfig

__all__ = [
    "STRIPE",
    "NotYet",
    "Quote",
    "StripeFailed",
    "StripeProvider",
    "WebhookRefused",
    "fee_for",
    "quote",
]

TOLERANCE = 300  # seconds a signed event stays acceptable (Stripe's default)
MAX_EVENT_BYTES = 512 * 1024
PAID = ("paid", "no_payment_required")


@dataclass(frozen=True)
class CheckoutForm:
    donor_id: int
    amount: str
    currency: str
    form_key: str


@dataclass(frozen=True)
class Started:
    url: str  # Stripe's page for this session
    checkout_id: int


async def start_checkout(db: Database, settings: Settings, form: CheckoutForm) -> Started:
    """The Checkout Session of this form (made once; a second submit gets the same)."""
    config = card_payments(settings)
    if form.currency != settings.currency:
        raise ValidationFailed(
            f"this instance takes {settings.currency} only, not {form.currency[:3] or 'nothing'}"
        )
    wanted = quote(form.amount, settings)
    key = checked_form_key(form.form_key)
    async with db.transaction() as session:
        row = await _checkout_of_form(session, settings, form, wanted)
        if row.session_url:
            return Started(row.session_url, int(row.id or 0))
        checkout_id = int(row.id or 0)
    made = await _create_session(config, settings, row, key)
    async with db.transaction() as session:
        stored = await session.get(StripeCheckout, checkout_id, with_for_update=True)
        assert stored is not None
        if not stored.session_id:
            stored.session_id, stored.session_url = made
            session.add(stored)
        return Started(stored.session_url, checkout_id)


async def _checkout_of_form(
    session: AsyncSession, settings: Settings, form: CheckoutForm, wanted: Quote
) -> StripeCheckout:
    found = (
        await session.exec(select(StripeCheckout).where(StripeCheckout.form_key == form.form_key))
    ).first()
    if found is None:
        row = StripeCheckout(
            form_key=form.form_key,
            donor_id=form.donor_id,
            amount=wanted.amount,
            fee=wanted.fee,
            total=wanted.total,
            currency=settings.currency,
        )
        try:
            async with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:  # a concurrent submit of the same form won
            found = (
                await session.exec(
                    select(StripeCheckout).where(StripeCheckout.form_key == form.form_key)
                )
            ).one()
    if found.donor_id != form.donor_id or found.amount != wanted.amount:
        raise Conflict("this form was already sent with another amount: reload the page")
    return found


async def _create_session(
    config: StripeConfig, settings: Settings, row: StripeCheckout, key: str
) -> tuple[str, str]:
    base = settings.base_url
    details = {
        "donor_id": str(row.donor_id),
        "checkout_id": str(row.id),
        "amount": str(row.amount),
        "fee": str(row.fee),
    }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.currency.lower(),
                    "unit_amount": row.total,
                    "product_data": {"name": f"Wallet top-up, {settings.name}"[:200]},
                },
            }
        ],
        "payment_method_types": list(config.payment_methods),
        "client_reference_id": str(row.donor_id),
        "metadata": details,
        "payment_intent_data": {"metadata": details},
        "success_url": f"{base}/money/add/done?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/money/add",
    }
    client, http = client_of(config)
    try:
        made = (
            await client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"likewise-checkout-{key}"},
            )
        ).to_dict()
    except stripe.StripeError as error:
        raise StripeFailed(f"Stripe refused the payment page: {refusal(error)}") from error
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    session_id, url = str(made.get("id") or ""), str(made.get("url") or "")
    shown_by_stripe = url.startswith(("https://", f"{config.api_base}/"))
    if not STRIPE_ID.fullmatch(session_id) or not shown_by_stripe:
        raise StripeFailed("Stripe answered without a session id and page")
    return session_id, url


@dataclass(frozen=True)
class ReturnView:
    checkout: StripeCheckout
    credited: bool
    paid: bool  # Stripe says paid (the wallet waits for the signed webhook)


async def returned(db: Database, settings: Settings, donor_id: int, session_id: str) -> ReturnView:
    """What the donor's return from Stripe shows. Nothing is booked here: a paid session
    is "received, waiting for confirmation" until the webhook credits it."""
    config = card_payments(settings)
    if not STRIPE_ID.fullmatch(session_id):
        raise NotFound("no such payment")
    async with db.reading() as session:
        row = (
            await session.exec(
                select(StripeCheckout).where(
                    StripeCheckout.session_id == session_id, StripeCheckout.donor_id == donor_id
                )
            )
        ).first()
    if row is None:
        raise NotFound("no such payment")
    if row.credited_at is not None:
        return ReturnView(row, credited=True, paid=True)
    client, http = client_of(config)
    try:
        found = await client.v1.checkout.sessions.retrieve_async(session_id)
        paid = found.to_dict().get("payment_status") in PAID
    except stripe.StripeError:
        paid = False  # shown as "not confirmed yet" either way
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    return ReturnView(row, credited=False, paid=paid)


# The webhook


def _verified(body: bytes, signature: str | None, config: StripeConfig) -> dict[str, Any]:
    """The event, after the library checked its signature and timestamp."""
    if len(body) > MAX_EVENT_BYTES:
        raise WebhookRefused("the event is larger than any Stripe sends")
    try:
        stripe.Webhook.construct_event(body, signature, config.webhook_secret, TOLERANCE)
    except stripe.SignatureVerificationError as error:
        raise WebhookRefused(f"the Stripe-Signature does not verify: {error}") from error
    except (ValueError, AttributeError, TypeError, KeyError) as error:
        # Signed, but not UTF-8 JSON holding an object (the library reads whatever it is).
        raise WebhookRefused("the signed body is not a JSON event") from error
    document = json.loads(body)
    if not isinstance(document, dict):
        raise WebhookRefused("the signed body is not a JSON event")
    return document


async def handle_event(db: Database, settings: Settings, body: bytes, signature: str | None) -> str:
    """Verify, then handle a webhook delivery once; what was done, in words."""
    config = card_payments(settings)
    event = _verified(body, signature, config)
    event_id = text_of(event.get("id"), "id")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise WebhookRefused("the event has no type")
    handler = HANDLERS.get(kind)
    found = object_of(event)
    async with db.transaction() as session:
        if await session.get(StripeEvent, event_id) is not None:
            return "already handled"
        seen = StripeEvent(event_id=event_id, type=kind[:100])
        try:
            async with session.begin_nested():  # first: a concurrent delivery waits here
                session.add(seen)
        except IntegrityError:
            return "already handled"
        outcome = await handler(session, settings, event_id, found) if handler else ""
        seen.outcome = (outcome or f"{kind}: nothing to do")[:300]
        session.add(seen)
        return seen.outcome


async def _session_paid(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    return await _session_event(session, settings, found, succeeded=True)


async def _session_completed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    return await _session_event(session, settings, found, succeeded=False)


async def _session_event(
    session: AsyncSession, settings: Settings, found: dict[str, Any], *, succeeded: bool
) -> str:
    session_id = text_of(found.get("id"), "session id")
    if found.get("mode") == "setup":
        return f"setup session {session_id}: the card is saved by setup_intent.succeeded"
    row = await books.payment_by(session, session_id=session_id)
    if row is None:
        return f"session {session_id} is not one of this instance's"
    if found.get("client_reference_id") != str(row.donor_id):
        raise WebhookRefused("the session names another donor than the one who started it")
    currency = found.get("currency")
    if not isinstance(currency, str) or currency.upper() != row.currency:
        raise WebhookRefused(f"the session is in {currency!r}, not {row.currency}")
    if minor_of(found.get("amount_total"), "amount_total") != row.total:
        raise WebhookRefused("the session's amount_total is not what the donor was shown")
    status = found.get("payment_status")
    if not isinstance(status, str):
        raise WebhookRefused("the session has no payment_status")
    intent = found.get("payment_intent")
    if intent is not None:
        row.payment_intent = row.payment_intent or text_of(intent, "payment_intent")
    row.payment_status = status[:32]
    session.add(row)
    if status not in PAID and not succeeded:
        return f"session {session_id} {status}: waiting for the payment to settle"
    return await books.credit_payment(session, settings, row)


async def _session_failed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    session_id = text_of(found.get("id"), "session id")
    row = await books.payment_by(session, session_id=session_id)
    if row is None:
        return "nothing to do"
    # payment_intent.payment_failed may have told the donor already: once is enough.
    if not books.tell_failed(session, settings, row, "", top_up=False):
        return f"session {session_id}: failed before, or credited"
    return f"session {session_id} failed"


HANDLERS = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_paid,
    "checkout.session.async_payment_failed": _session_failed,
    "payment_intent.succeeded": top_ups.intent_succeeded,
    "payment_intent.payment_failed": top_ups.intent_failed,
    "setup_intent.succeeded": top_ups.setup_succeeded,
    "charge.refunded": books.refunded,
    "charge.dispute.created": books.disputed,
    "charge.dispute.funds_reinstated": books.reinstated,
    "charge.dispute.closed": books.dispute_closed,
}


# What the donor reads


async def unread_notices(session: AsyncSession, donor_id: int) -> list[WalletNotice]:
    """The wallet notices the donor has not dismissed, oldest first (the money page)."""
    rows = await session.exec(
        select(WalletNotice)
        .where(WalletNotice.account_id == donor_id, col(WalletNotice.seen_at).is_(None))
        .order_by(col(WalletNotice.id))
    )
    return list(rows.all())


async def dismiss_notice(db: Database, donor_id: int, notice_id: int) -> None:
    async with db.transaction() as session:
        notice = await session.get(WalletNotice, notice_id)
        if notice is None or notice.account_id != donor_id:
            raise NotFound("no such notice")
        if notice.seen_at is None:
            notice.seen_at = utcnow()
            session.add(notice)
