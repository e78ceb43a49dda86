"""The automatic monthly top-up (Flattr's auto-refill): the donor saves a payment method
with Stripe Checkout in setup mode and asks to keep the wallet at N months of budget;
housekeeping charges the difference off-session in the month's last `top_up_days` days,
before the close. As for Checkout, only the signed webhook credits the wallet.

- One charge a month at most: the payment row's key is `top-up:<donor>:<month>`, written
  before Stripe is called, and Stripe's Idempotency-Key is bound to donor and month too, so
  a rerun, a second housekeeping job, or a run killed between the call and its answer never
  charges twice (a row still `charging` is sent again with the same key, which Stripe
  answers with the first charge). A charge that fails is not tried again that month.
- The amount is N times the monthly budget minus the wallet's balance (raised to the smallest
  amount Stripe takes, capped at the largest), plus the processing fee as on "Add money";
  nothing when the wallet already covers it, the budget is paused, or top-up is off.
- A failure (card_declined, authentication_required: in Stripe's answer or in
  `payment_intent.payment_failed`) credits nothing and leaves the donor a notice, once.
- "Forget this card" detaches the payment method at Stripe first, then forgets it here
  and turns the top-up off; when Stripe cannot be reached nothing changes here. A card
  saved while the old one was being detached (another tab) is kept, and the page says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import ServiceError, ValidationFailed
from server.models import DonorSettings, LedgerKind
from server.models.base import utcnow
from server.models.stripe_payments import StripeCheckout
from server.models.stripe_top_ups import StripeAutoTopUp
from server.money.amounts import format_money
from server.money.funding.stripe_books import FAILED, credit_payment, payment_by, tell_failed
from server.money.funding.stripe_client import (
    STRIPE_ID,
    StripeFailed,
    WebhookRefused,
    card_payments,
    client_of,
    fee_for,
    metadata_of,
    minor_of,
    refusal,
    text_of,
)
from server.money.ledger import Owner, balance_of
from server.settings import Settings, StripeConfig

log = logging.getLogger("likewise.stripe")
PURPOSE = "auto_top_up"
CHARGING = "charging"  # the row is written; Stripe's answer is not stored yet
RESEND_WITHIN = timedelta(hours=23)  # Stripe keeps idempotency keys for 24 hours
MONTHS = range(0, 13)
REASONS = {
    "card_declined": "the card was declined",
    "authentication_required": (
        "your bank wants you to confirm the payment, which cannot be done while you are away"
    ),
    "expired_card": "the card has expired",
    "insufficient_funds": "the account has not enough money",
}


def top_up_key(donor_id: int, period: str) -> str:
    return f"top-up:{donor_id}:{period}"


@dataclass(frozen=True)
class AutoTopUpView:
    months: int
    saved: bool  # a payment method is saved
    confirming: bool  # a setup session was started and Stripe has not confirmed it yet
    budget: int
    days: int


async def auto_top_up_view(
    session: AsyncSession, settings: Settings, donor_id: int
) -> AutoTopUpView:
    config = card_payments(settings)
    row = await session.get(StripeAutoTopUp, donor_id)
    donor = await session.get(DonorSettings, donor_id)
    budget = donor.monthly_budget if donor else settings.budget_default
    if row is None:
        return AutoTopUpView(0, False, False, budget, config.top_up_days)
    saved = row.payment_method_id is not None
    confirming = not saved and row.setup_session_id is not None
    return AutoTopUpView(row.months, saved, confirming, budget, config.top_up_days)


async def top_up_page(db: Database, settings: Settings, donor_id: int) -> AutoTopUpView:
    async with db.reading() as session:
        return await auto_top_up_view(session, settings, donor_id)


@dataclass(frozen=True)
class TopUpAnswer:
    """What the top-up's section shows after a form: its state, and the refusal if any."""

    view: AutoTopUpView  # as it is now (unchanged when refused)
    error: ServiceError | None


async def choose_months(db: Database, settings: Settings, donor_id: int, text: str) -> TopUpAnswer:
    """set_months, and the section to show again when it was refused."""
    try:
        await set_months(db, settings, donor_id, text)
        error = None
    except ValidationFailed as refused:
        error = refused
    return TopUpAnswer(await top_up_page(db, settings, donor_id), error)


async def _setting(session: AsyncSession, donor_id: int) -> StripeAutoTopUp:
    row = await session.get(StripeAutoTopUp, donor_id, with_for_update=True)
    return row or StripeAutoTopUp(account_id=donor_id)


async def set_months(db: Database, settings: Settings, donor_id: int, text: str) -> int:
    """Keep the wallet at `text` months of budget (0 turns the top-up off)."""
    card_payments(settings)
    months = int(text) if text.strip().isdigit() and text.isascii() else -1
    if months not in MONTHS:
        raise ValidationFailed("choose off or 1 to 12 months", field="months")
    async with db.transaction() as session:
        row = await _setting(session, donor_id)
        if months and row.payment_method_id is None:
            raise ValidationFailed("save a card first", field="months")
        row.months, row.updated_at = months, utcnow()
        session.add(row)
    return months


async def start_saving(db: Database, settings: Settings, donor_id: int) -> str:
    """Stripe's page where the donor saves a payment method for top-ups (Checkout in setup
    mode for the donor's Customer, made once); its address."""
    config = card_payments(settings)
    async with db.reading() as session:
        found = await session.get(StripeAutoTopUp, donor_id)
        customer = found.customer_id if found else None
    details = {"donor_id": str(donor_id), "purpose": PURPOSE}
    client, http = client_of(config)
    try:
        if customer is None:
            made = await client.v1.customers.create_async(
                {"metadata": details, "description": f"Likewise account {donor_id}"},
                {"idempotency_key": f"likewise-customer-{settings.domain}-{donor_id}"},
            )
            customer = await _keep_customer(db, donor_id, str(made.to_dict().get("id") or ""))
        params: dict[str, Any] = {
            "mode": "setup",
            "customer": customer,
            "currency": settings.currency.lower(),
            "payment_method_types": list(config.payment_methods),
            "client_reference_id": str(donor_id),
            "metadata": details,
            "setup_intent_data": {"metadata": details},
            "success_url": f"{settings.base_url}/money/add?card=saved",
            "cancel_url": f"{settings.base_url}/money/add",
        }
        page = (await client.v1.checkout.sessions.create_async(params)).to_dict()  # type: ignore[arg-type]
    except stripe.StripeError as error:
        raise StripeFailed(f"Stripe refused the page to save a card: {refusal(error)}") from error
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    session_id, url = str(page.get("id") or ""), str(page.get("url") or "")
    if not STRIPE_ID.fullmatch(session_id) or not url.startswith(("https://", config.api_base)):
        raise StripeFailed("Stripe answered without a session id and page")
    async with db.transaction() as session:
        row = await _setting(session, donor_id)
        row.setup_session_id, row.updated_at = session_id, utcnow()
        session.add(row)
    return url


class Forgot(StrEnum):
    """What "Forget this card" did."""

    nothing = "nothing"  # no card was saved (the form sent again): nothing to do
    forgotten = "forgotten"  # detached at Stripe, forgotten here, the top-up off
    # The card shown was detached at Stripe, but another card was saved while that was
    # under way (the setup page finished in another tab): that newer card is kept, and so
    # is the top-up; the donor is told so, not that no card is saved.
    replaced = "replaced"


@dataclass(frozen=True)
class ForgetAnswer(TopUpAnswer):
    forgot: Forgot  # `nothing` when refused


async def choose_forgetting(db: Database, settings: Settings, donor_id: int) -> ForgetAnswer:
    """forget_card, and the section to show again when Stripe could not do it."""
    try:
        forgot = await forget_card(db, settings, donor_id)
        return ForgetAnswer(await top_up_page(db, settings, donor_id), None, forgot)
    except StripeFailed as failed:
        return ForgetAnswer(await top_up_page(db, settings, donor_id), failed, Forgot.nothing)


async def forget_card(db: Database, settings: Settings, donor_id: int) -> Forgot:
    """Detach the saved payment method at Stripe (it can never be charged again), then
    forget it here and turn the top-up off. Nothing when no card is saved (a reload);
    `replaced` when a newer card was saved while the old one was being detached (the newer
    one stays). When Stripe cannot be reached or refuses, nothing changes here
    (StripeFailed)."""
    config = card_payments(settings)
    async with db.reading() as session:
        found = await session.get(StripeAutoTopUp, donor_id)
        method = found.payment_method_id if found else None
    if method is None:
        return Forgot.nothing
    client, http = client_of(config)
    try:
        await client.v1.payment_methods.detach_async(method)
    except stripe.InvalidRequestError as error:
        if not _detached_before(error):
            raise StripeFailed(f"Stripe refused to forget the card: {refusal(error)}") from error
    except stripe.StripeError as error:
        raise StripeFailed(
            f"Stripe could not be reached to forget the card ({refusal(error)}): it is still "
            "saved, and the top-up is as it was. Try again in a moment."
        ) from error
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    async with db.transaction() as session:
        row = await _setting(session, donor_id)
        if row.payment_method_id != method:  # replaced by a card saved meanwhile
            log.info("event=top_up_card_forgotten donor=%s newer_card_kept=yes", donor_id)
            return Forgot.replaced
        row.payment_method_id, row.saved_at, row.months = None, None, 0
        row.updated_at = utcnow()
        session.add(row)
    log.info("event=top_up_card_forgotten donor=%s", donor_id)
    return Forgot.forgotten


def _detached_before(error: stripe.InvalidRequestError) -> bool:
    """Stripe's answer for a payment method already detached (an earlier try whose answer
    was lost) or gone: forgetting it here is all that is left."""
    said = str(_inner(error).get("message") or error.user_message or "")
    return error.code == "resource_missing" or "not attached to a customer" in said


async def _keep_customer(db: Database, donor_id: int, customer: str) -> str:
    if not STRIPE_ID.fullmatch(customer):
        raise StripeFailed("Stripe answered without a customer id")
    async with db.transaction() as session:
        row = await _setting(session, donor_id)
        row.customer_id = row.customer_id or customer
        session.add(row)
        return row.customer_id


# Charging, from housekeeping


@dataclass(frozen=True)
class TopUpReport:
    charged: int = 0  # Stripe took the charge (the webhook credits it)
    failed: int = 0  # declined or refused: the donor was told
    unsure: int = 0  # no answer from Stripe: sent again (same key) by the next run


def in_window(now: datetime, config: StripeConfig) -> bool:
    """Whether `now` is in its month's last `top_up_days` days (UTC)."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return following - now <= timedelta(days=config.top_up_days)


async def top_up_wallets(
    db: Database, settings: Settings, now: datetime | None = None
) -> TopUpReport:
    """Charge every donor whose wallet is below their chosen months of budget, once this
    month (housekeeping calls it each slot; safe to repeat and to run twice at once)."""
    config = settings.stripe
    now = now or utcnow()
    if config is None or not in_window(now, config):
        return TopUpReport()
    period = now.strftime("%Y-%m")
    async with db.reading() as session:
        query = select(StripeAutoTopUp.account_id).where(
            col(StripeAutoTopUp.months) > 0, col(StripeAutoTopUp.payment_method_id).is_not(None)
        )
        donors = list((await session.exec(query.order_by(col(StripeAutoTopUp.account_id)))).all())
    counts = {"charged": 0, "failed": 0, "unsure": 0}
    for donor_id in donors:
        prepared = await _prepare(db, settings, config, donor_id, period, now)
        if prepared is not None:
            counts[await _charge(db, settings, config, prepared)] += 1
    report = TopUpReport(**counts)
    if donors:
        log.info(
            "event=top_ups period=%s charged=%s failed=%s unsure=%s",
            period,
            report.charged,
            report.failed,
            report.unsure,
        )
    if report.unsure:
        raise StripeFailed(f"Stripe did not answer {report.unsure} top-up(s); sent again later")
    return report


@dataclass(frozen=True)
class Prepared:
    checkout_id: int
    donor_id: int
    period: str
    total: int
    customer: str
    method: str


async def _prepare(
    db: Database,
    settings: Settings,
    config: StripeConfig,
    donor_id: int,
    period: str,
    now: datetime,
) -> Prepared | None:
    """This month's top-up row of the donor, written before Stripe is called; None when
    there is nothing to charge (covered, off, paused, or tried already this month)."""
    key = top_up_key(donor_id, period)
    async with db.transaction() as session:
        setting = await session.get(StripeAutoTopUp, donor_id)
        if setting is None or not setting.months or not setting.payment_method_id:
            return None
        customer, method = str(setting.customer_id), setting.payment_method_id
        row = await payment_by(session, form_key=key)
        if row is not None:
            # Tried this month. Only a run that died before storing Stripe's answer sends
            # again, with the same idempotency key, while Stripe still remembers it.
            if row.payment_status != CHARGING or now - row.created_at > RESEND_WITHIN:
                return None
        else:
            amount = await _shortfall(session, settings, config, donor_id, setting.months)
            if amount <= 0:
                return None
            fee = fee_for(amount, config)
            row = StripeCheckout(
                form_key=key,
                donor_id=donor_id,
                amount=amount,
                fee=fee,
                total=amount + fee,
                currency=settings.currency,
                payment_status=CHARGING,
                created_at=now,
            )
            try:
                async with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # another run wrote it first: that run charges
                return None
        return Prepared(int(row.id or 0), donor_id, period, row.total, customer, method)


async def _shortfall(
    session: AsyncSession, settings: Settings, config: StripeConfig, donor_id: int, months: int
) -> int:
    """What the wallet lacks to hold `months` of budget, as Stripe would take it."""
    donor = await session.get(DonorSettings, donor_id)
    if donor is not None and donor.paused:
        return 0
    budget = donor.monthly_budget if donor else settings.budget_default
    balance = await balance_of(
        session, settings, Owner(LedgerKind.donor_wallet, account_id=donor_id)
    )
    lacking = months * budget - balance
    if lacking <= 0:
        return 0
    return min(max(lacking, config.min_amount), config.max_amount)


async def _charge(db: Database, settings: Settings, config: StripeConfig, job: Prepared) -> str:
    """Ask Stripe for the charge; store its answer. 'charged', 'failed' or 'unsure'."""
    details = {
        "donor_id": str(job.donor_id),
        "checkout_id": str(job.checkout_id),
        "purpose": PURPOSE,
        "period": job.period,
    }
    params: dict[str, Any] = {
        "amount": job.total,
        "currency": settings.currency.lower(),
        "customer": job.customer,
        "payment_method": job.method,
        "payment_method_types": list(config.payment_methods),
        "off_session": True,
        "confirm": True,
        "description": f"Automatic wallet top-up, {settings.name}"[:200],
        "metadata": details,
    }
    key = f"likewise-top-up-{settings.domain}-{job.donor_id}-{job.period}"
    client, http = client_of(config)
    try:
        made = await client.v1.payment_intents.create_async(
            params,  # type: ignore[arg-type]
            {"idempotency_key": key},
        )
        intent = made.to_dict()
        status, reason = str(intent.get("status") or ""), ""
    except stripe.CardError as error:
        decline = _inner(error).get("decline_code")
        intent, status = _intent_of(error), FAILED
        reason = _reason(decline, error.code, refusal(error))
    except stripe.InvalidRequestError as error:  # a detached card, a closed customer
        intent, status, reason = _intent_of(error), FAILED, refusal(error)
    except stripe.StripeError as error:
        log.warning("event=top_up_unsure donor=%s reason=%s", job.donor_id, refusal(error))
        return "unsure"
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    return await _store_answer(db, settings, job, intent, status, reason)


def _inner(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body if isinstance(error.json_body, dict) else {}
    inner = body.get("error")
    return inner if isinstance(inner, dict) else {}


def _intent_of(error: stripe.StripeError) -> dict[str, Any]:
    intent = _inner(error).get("payment_intent")
    return intent if isinstance(intent, dict) else {}


def _reason(decline: object, code: object, said: str) -> str:
    """Stripe's decline or error code in the donor's words, else what Stripe said."""
    for known in (decline, code):
        if isinstance(known, str) and known in REASONS:
            return REASONS[known]
    return said


async def _store_answer(
    db: Database,
    settings: Settings,
    job: Prepared,
    intent: dict[str, Any],
    status: str,
    reason: str,
) -> str:
    intent_id = intent.get("id")
    async with db.transaction() as session:
        row = await session.get(StripeCheckout, job.checkout_id, with_for_update=True)
        if row is None:
            return "unsure"
        if isinstance(intent_id, str) and STRIPE_ID.fullmatch(intent_id):
            row.payment_intent = row.payment_intent or intent_id
        if status == FAILED or status in ("canceled", "requires_payment_method"):
            tell_failed(session, settings, row, reason or "Stripe refused it", top_up=True)
            return "failed"
        if row.payment_status == CHARGING:  # the webhook may have been quicker
            row.payment_status = status[:32]
        session.add(row)
    return "charged"


# Webhook events


async def setup_succeeded(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    """`setup_intent.succeeded`: the donor's payment method is saved for top-ups."""
    metadata = metadata_of(found)
    if metadata.get("purpose") != PURPOSE:
        return "not a top-up's payment method"
    customer = text_of(found.get("customer"), "customer")
    method = text_of(found.get("payment_method"), "payment_method")
    query = select(StripeAutoTopUp).where(StripeAutoTopUp.customer_id == customer)
    row = (await session.exec(query.with_for_update())).first()
    if row is None:
        return f"customer {customer} is not one of this instance's"
    if metadata.get("donor_id") != str(row.account_id):
        raise WebhookRefused("the setup names another donor than the customer's")
    if found.get("status") != "succeeded":
        return "the setup has not succeeded"
    row.payment_method_id, row.saved_at, row.updated_at = method, utcnow(), utcnow()
    session.add(row)
    return f"saved a payment method for account {row.account_id}"


async def _payment_of_intent(
    session: AsyncSession, found: dict[str, Any]
) -> tuple[StripeCheckout | None, str]:
    """The payment row a PaymentIntent event is about: by its id, or (when the answer or
    the session naming it was not stored yet) by the row id in its metadata."""
    intent = text_of(found.get("id"), "payment intent id")
    metadata = metadata_of(found)
    row = await payment_by(session, payment_intent=intent)
    if row is None:
        number = metadata.get("checkout_id", "")
        if not number.isdigit() or not number.isascii():
            return None, intent
        row = await session.get(StripeCheckout, int(number), with_for_update=True)
        if row is None or row.payment_intent not in (None, intent):
            return None, intent
    if metadata.get("donor_id") != str(row.donor_id):
        raise WebhookRefused("the payment names another donor than the one it was made for")
    if row.payment_intent is None:
        row.payment_intent = intent
        session.add(row)
    return row, intent


async def intent_succeeded(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    """`payment_intent.succeeded`: credit the payment (a top-up, or a Checkout payment
    whose session events come later), once."""
    row, intent = await _payment_of_intent(session, found)
    if row is None:
        return f"payment {intent} is not one of this instance's"
    currency = found.get("currency")
    if not isinstance(currency, str) or currency.upper() != row.currency:
        raise WebhookRefused(f"the payment is in {currency!r}, not {row.currency}")
    if minor_of(found.get("amount_received"), "amount_received") != row.total:
        raise WebhookRefused("the payment's amount_received is not what was asked")
    if row.payment_status in (CHARGING, FAILED, ""):
        row.payment_status = "succeeded"
    return await credit_payment(session, settings, row)


async def intent_failed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    """`payment_intent.payment_failed`: an off-session top-up declined, or a SEPA Direct
    Debit that failed after its Checkout session completed. While the donor is still on
    Checkout's page (the session not completed) they can try again: nothing to tell."""
    row, intent = await _payment_of_intent(session, found)
    if row is None:
        return f"payment {intent} is not one of this instance's"
    top_up = row.session_id is None
    if not top_up and row.payment_status not in ("unpaid", "processing"):
        return f"payment {intent} failed on Stripe's page: the donor can try again there"
    error = found.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    said = str(error.get("message") or "")[:200]
    reason = _reason(error.get("decline_code"), error.get("code"), said)
    if not tell_failed(session, settings, row, reason, top_up=top_up):
        return f"payment {intent}: failed before, or credited"
    return f"payment {intent} of {format_money(row.total, settings)} failed: the donor is told"
