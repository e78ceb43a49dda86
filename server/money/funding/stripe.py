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
  is booked to the instance's loss account. When the wallet could not cover its part, the
  donor's budget pauses and the money page says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import Conflict, Kind, NotFound, ServiceError, ValidationFailed
from server.models import DonorSettings, LedgerKind, TransferKind
from server.models.base import utcnow
from server.models.stripe_payments import StripeCheckout, StripeEvent, WalletNotice
from server.money.amounts import format_money, parse_amount
from server.money.forms import checked_form_key
from server.money.funding.base import Funding, FundingProvider
from server.money.ledger import Owner, TransferSpec, balance_of, ledger_accounts, post_transfer
from server.settings import Settings, StripeConfig

TOLERANCE = 300  # seconds a signed event stays acceptable (Stripe's default)
MAX_EVENT_BYTES = 512 * 1024
STRIPE_ID = re.compile(r"[A-Za-z0-9_]{3,255}")
PAID = ("paid", "no_payment_required")


class StripeProvider(FundingProvider):
    name = "stripe"


STRIPE = StripeProvider()


class WebhookRefused(ServiceError):
    """A delivery that is not a signed, well-formed Stripe event for this instance: 400."""

    kind = Kind.bad_request
    code = "webhook_refused"


class StripeFailed(ServiceError):
    kind = Kind.upstream
    code = "stripe_failed"


class NotYet(ServiceError):
    """An event about a payment not credited yet (events come out of order): Stripe
    delivers it again later."""

    kind = Kind.unavailable
    code = "retry_later"


@dataclass(frozen=True)
class Quote:
    amount: int  # what reaches the wallet
    fee: int  # the processing fee on top
    total: int  # what the donor pays


def card_payments(settings: Settings) -> StripeConfig:
    config = settings.stripe
    if config is None:
        raise NotFound("this instance takes no card payments")
    return config


def fee_for(amount: int, config: StripeConfig) -> int:
    """fee_fixed plus fee_bps of the amount, rounded up to a whole minor unit."""
    return config.fee_fixed + -(-amount * config.fee_bps // 10_000)


def quote(text: str, settings: Settings) -> Quote:
    config = card_payments(settings)
    amount = parse_amount(text, settings)
    if not config.min_amount <= amount <= config.max_amount:
        low, high = (
            format_money(config.min_amount, settings),
            format_money(config.max_amount, settings),
        )
        raise ValidationFailed(f"the amount must be from {low} to {high}", field="amount")
    fee = fee_for(amount, config)
    return Quote(amount, fee, amount + fee)


class _HTTPX(stripe.HTTPXClient):
    """The library's httpx transport, sending the encoded form as `content`: httpx
    deprecates raw bytes as `data` (and warns on every request)."""

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]
        self, method: str, url: str, headers: Mapping[str, str], post_data
    ):
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        kwargs["content"] = kwargs.pop("data") or None
        return args, kwargs


def _client(config: StripeConfig) -> tuple[stripe.StripeClient, stripe.HTTPXClient]:
    """The library's client over httpx, async; the caller closes the second."""
    http = _HTTPX(timeout=20)
    client = stripe.StripeClient(
        config.secret_key,
        http_client=http,
        base_addresses={"api": config.api_base},
        max_network_retries=1,
    )
    return client, http


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
    client, http = _client(config)
    try:
        made = (
            await client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"likewise-checkout-{key}"},
            )
        ).to_dict()
    except stripe.StripeError as error:
        message = error.user_message or str(error)
        raise StripeFailed(f"Stripe refused the payment page: {message}") from error
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
    client, http = _client(config)
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


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not STRIPE_ID.fullmatch(value):
        raise WebhookRefused(f"the event's {what} is missing or not a Stripe id")
    return value


def _object(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise WebhookRefused("the event has no data.object")
    return found


def _minor(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WebhookRefused(f"the event's {what} is not an amount in minor units")
    return value


async def handle_event(db: Database, settings: Settings, body: bytes, signature: str | None) -> str:
    """Verify, then handle a webhook delivery once; what was done, in words."""
    config = card_payments(settings)
    event = _verified(body, signature, config)
    event_id = _text(event.get("id"), "id")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise WebhookRefused("the event has no type")
    handler = HANDLERS.get(kind)
    found = _object(event)
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


async def _checkout_by(session: AsyncSession, **where: str) -> StripeCheckout | None:
    ((name, value),) = where.items()
    query = select(StripeCheckout).where(col(getattr(StripeCheckout, name)) == value)
    return (await session.exec(query.with_for_update())).first()


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
    session_id = _text(found.get("id"), "session id")
    row = await _checkout_by(session, session_id=session_id)
    if row is None:
        return f"session {session_id} is not one of this instance's"
    if found.get("client_reference_id") != str(row.donor_id):
        raise WebhookRefused("the session names another donor than the one who started it")
    currency = found.get("currency")
    if not isinstance(currency, str) or currency.upper() != row.currency:
        raise WebhookRefused(f"the session is in {currency!r}, not {row.currency}")
    if _minor(found.get("amount_total"), "amount_total") != row.total:
        raise WebhookRefused("the session's amount_total is not what the donor was shown")
    status = found.get("payment_status")
    if not isinstance(status, str):
        raise WebhookRefused("the session has no payment_status")
    intent = found.get("payment_intent")
    if intent is not None:
        row.payment_intent = row.payment_intent or _text(intent, "payment_intent")
    row.payment_status = status[:32]
    session.add(row)
    if status not in PAID and not succeeded:
        return f"session {session_id} {status}: waiting for the payment to settle"
    return await _credit(session, settings, row)


async def _credit(session: AsyncSession, settings: Settings, row: StripeCheckout) -> str:
    payment = row.payment_intent or str(row.session_id)
    done = await STRIPE.credit(
        session, settings, Funding(row.donor_id, row.amount, payment, STRIPE.name)
    )
    if row.fee:
        world, fees = Owner(LedgerKind.outside_world), _fees()
        accounts = await ledger_accounts(session, settings, [world, fees])
        spec = TransferSpec(
            key=f"fee:{STRIPE.name}:{payment}",
            debit_id=int(accounts[world].id or 0),
            credit_id=int(accounts[fees].id or 0),
            amount=row.fee,
            kind=TransferKind.provider_fee,
            reference=payment,
        )
        await post_transfer(session, spec)
    if row.credited_at is None:
        row.credited_at, row.transfer_id = utcnow(), done.transfer.id
        session.add(row)
    money = format_money(row.amount, settings)
    return f"credited {money} to account {row.donor_id}" if done.created else "credited before"


def _fees() -> Owner:
    return Owner(LedgerKind.provider_fees, peer_domain=STRIPE.name)


async def _session_failed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    session_id = _text(found.get("id"), "session id")
    row = await _checkout_by(session, session_id=session_id)
    if row is None or row.credited_at is not None:
        return "nothing to do"
    row.payment_status = "failed"
    session.add(row)
    session.add(
        WalletNotice(
            account_id=row.donor_id,
            message=f"Your payment of {format_money(row.total, settings)} did not go through; "
            "nothing was added to your wallet.",
        )
    )
    return f"session {session_id} failed"


async def _refunded(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    charge = _text(found.get("id"), "charge id")
    refunded = _minor(found.get("amount_refunded"), "amount_refunded")
    row = await _paid_row(session, found)
    # amount_refunded is the charge's total so far: take back what earlier events did not.
    return await _take_back(session, settings, row, event_id, refunded, f"refund of {charge}")


async def _disputed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    dispute = _text(found.get("id"), "dispute id")
    amount = _minor(found.get("amount"), "amount")
    row = await _paid_row(session, found)
    # A dispute adds to what was taken back before it.
    target = row.taken_back + amount
    return await _take_back(session, settings, row, event_id, target, f"dispute {dispute}")


async def _paid_row(session: AsyncSession, found: dict[str, Any]) -> StripeCheckout:
    currency = found.get("currency")
    intent = _text(found.get("payment_intent"), "payment_intent")
    row = await _checkout_by(session, payment_intent=intent)
    if row is None or row.credited_at is None:
        raise NotYet(f"the payment {intent} is not credited yet; deliver this event again later")
    if not isinstance(currency, str) or currency.upper() != row.currency:
        raise WebhookRefused(f"the event is in {currency!r}, not {row.currency}")
    return row


async def _take_back(
    session: AsyncSession,
    settings: Settings,
    row: StripeCheckout,
    event_id: str,
    target: int,
    what: str,
) -> str:
    """Take the payment back up to `target` of its total: the wallet's part (the amount) from
    the wallet up to its balance, the rest from the instance's loss account."""
    target = min(target, row.total)
    if target <= row.taken_back:
        return f"{what}: taken back before"
    owed = min(target, row.amount) - min(row.taken_back, row.amount)  # the wallet's part
    moving = target - row.taken_back
    wallet, world, loss = (
        Owner(LedgerKind.donor_wallet, account_id=row.donor_id),
        Owner(LedgerKind.outside_world),
        Owner(LedgerKind.instance_loss),
    )
    from_wallet = min(owed, await balance_of(session, settings, wallet))
    accounts = await ledger_accounts(session, settings, [wallet, world, loss])
    reference = row.payment_intent or ""
    if from_wallet:
        await post_transfer(
            session,
            TransferSpec(
                f"reverse:{STRIPE.name}:{event_id}",
                int(accounts[wallet].id or 0),
                int(accounts[world].id or 0),
                from_wallet,
                TransferKind.reversal,
                reference=reference,
            ),
        )
    if moving > from_wallet:
        await post_transfer(
            session,
            TransferSpec(
                f"reverse-loss:{STRIPE.name}:{event_id}",
                int(accounts[loss].id or 0),
                int(accounts[world].id or 0),
                moving - from_wallet,
                TransferKind.reversal_loss,
                reference=reference,
            ),
        )
    row.taken_back = target
    session.add(row)
    short = owed - from_wallet
    await _tell(session, settings, row, from_wallet, short, what)
    return f"{what}: {from_wallet} from the wallet, {moving - from_wallet} to the instance's loss"


async def _tell(
    session: AsyncSession,
    settings: Settings,
    row: StripeCheckout,
    from_wallet: int,
    short: int,
    what: str,
) -> None:
    kind = "a dispute" if what.startswith("dispute") else "a refund"
    message = (
        f"Your payment of {format_money(row.total, settings)} was taken back ({kind}): "
        f"{format_money(from_wallet, settings)} left your wallet."
    )
    if short:
        message += (
            f" {format_money(short, settings)} of it was already given to creators, so your "
            "monthly budget is paused until you add money and resume it."
        )
        donor = await session.get(DonorSettings, row.donor_id, with_for_update=True)
        if donor is None:
            donor = DonorSettings(
                account_id=row.donor_id, monthly_budget=settings.budget_default, paused=True
            )
        donor.paused, donor.updated_at = True, utcnow()
        session.add(donor)
    session.add(WalletNotice(account_id=row.donor_id, message=message[:500]))


HANDLERS = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_paid,
    "checkout.session.async_payment_failed": _session_failed,
    "charge.refunded": _refunded,
    "charge.dispute.created": _disputed,
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
