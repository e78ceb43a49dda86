"""What Stripe's events do to the books, for a Checkout payment and an automatic top-up
alike (both are `stripe_checkout` rows): a credit once per payment, a payment that did not
go through told to the donor once, refunds and disputes taken back (the wallet first, the
rest the instance's loss), and Stripe's dispute fee booked as the instance's expense.

The books (docs/stripe.md):
    outside_world ──funding──▶ donor_wallet                 (the amount)
    outside_world ──provider_fee──▶ provider_fees:stripe     (the fee the donor paid)
    donor_wallet ──reversal──▶ outside_world                 (taken back, up to the wallet)
    instance_loss ──reversal_loss──▶ outside_world           (taken back beyond it)
    instance_loss ──provider_fee──▶ provider_fees:stripe     (Stripe's dispute fee)
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import DonorSettings, LedgerKind, TransferKind
from server.models.base import utcnow
from server.models.stripe_payments import StripeCheckout, WalletNotice
from server.money.amounts import format_money
from server.money.funding.base import Funding
from server.money.funding.stripe_client import (
    STRIPE,
    NotYet,
    WebhookRefused,
    minor_of,
    text_of,
)
from server.money.ledger import Owner, TransferSpec, balance_of, ledger_accounts, post_transfer
from server.settings import Settings

FAILED = "failed"


def fees_owner() -> Owner:
    return Owner(LedgerKind.provider_fees, peer_domain=STRIPE.name)


async def payment_by(session: AsyncSession, **where: str) -> StripeCheckout | None:
    """The payment row with this column's value, locked."""
    ((name, value),) = where.items()
    query = select(StripeCheckout).where(col(getattr(StripeCheckout, name)) == value)
    return (await session.exec(query.with_for_update())).first()


async def credit_payment(session: AsyncSession, settings: Settings, row: StripeCheckout) -> str:
    """The wallet gets the amount and Stripe's fee account the fee, once per payment (keyed
    by the payment intent's id, whichever event brings it)."""
    payment = row.payment_intent or str(row.session_id)
    done = await STRIPE.credit(
        session, settings, Funding(row.donor_id, row.amount, payment, STRIPE.name)
    )
    if row.fee:
        world, fees = Owner(LedgerKind.outside_world), fees_owner()
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


def tell_failed(
    session: AsyncSession, settings: Settings, row: StripeCheckout, reason: str, *, top_up: bool
) -> bool:
    """Mark a payment that did not go through and tell the donor, once however many events
    and answers say so; False when it was told before (or it was credited after all)."""
    if row.credited_at is not None or row.payment_status == FAILED:
        return False
    row.payment_status = FAILED
    session.add(row)
    what = "Your automatic top-up" if top_up else "Your payment"
    message = (
        f"{what} of {format_money(row.total, settings)} did not go through"
        f"{f' ({reason})' if reason else ''}; nothing was added to your wallet."
    )
    if top_up:
        message += " It is not tried again this month: add money yourself, or save another card."
    session.add(WalletNotice(account_id=row.donor_id, message=message[:500]))
    return True


async def paid_row(session: AsyncSession, found: dict[str, Any]) -> StripeCheckout:
    currency = found.get("currency")
    intent = text_of(found.get("payment_intent"), "payment_intent")
    row = await payment_by(session, payment_intent=intent)
    if row is None or row.credited_at is None:
        raise NotYet(f"the payment {intent} is not credited yet; deliver this event again later")
    if not isinstance(currency, str) or currency.upper() != row.currency:
        raise WebhookRefused(f"the event is in {currency!r}, not {row.currency}")
    return row


async def refunded(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    charge = text_of(found.get("id"), "charge id")
    refunded = minor_of(found.get("amount_refunded"), "amount_refunded")
    row = await paid_row(session, found)
    # amount_refunded is the charge's total so far: take back what earlier events did not.
    return await take_back(session, settings, row, event_id, refunded, f"refund of {charge}")


async def disputed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    dispute = text_of(found.get("id"), "dispute id")
    amount = minor_of(found.get("amount"), "amount")
    row = await paid_row(session, found)
    # A dispute adds to what was taken back before it.
    target = row.taken_back + amount
    done = await take_back(session, settings, row, event_id, target, f"dispute {dispute}")
    fee = await book_dispute_fee(session, settings, row, found)
    return f"{done}; {fee}" if fee else done


def _withdrawal_fees(found: dict[str, Any], currency: str) -> list[tuple[str, int]]:
    """(balance transaction id, fee) of the dispute's withdrawals in the instance's
    currency: what Stripe charged for the dispute (its `fee`, a positive amount)."""
    listed = found.get("balance_transactions")
    if not isinstance(listed, list):
        return []
    fees: list[tuple[str, int]] = []
    for item in listed:
        if not isinstance(item, dict) or item.get("currency") != currency.lower():
            continue
        amount, fee = item.get("amount"), item.get("fee")
        if isinstance(amount, int) and amount < 0 and isinstance(fee, int) and fee > 0:
            fees.append((text_of(item.get("id"), "balance transaction id"), fee))
    return fees


async def book_dispute_fee(
    session: AsyncSession, settings: Settings, row: StripeCheckout, found: dict[str, Any]
) -> str:
    """Stripe's fee for the dispute is the instance's expense, never the donor's: the loss
    account pays Stripe's fee account, once per balance transaction."""
    fees = _withdrawal_fees(found, row.currency)
    if not fees:
        return ""
    loss, stripe_fees = Owner(LedgerKind.instance_loss), fees_owner()
    accounts = await ledger_accounts(session, settings, [loss, stripe_fees])
    for transaction, fee in fees:
        spec = TransferSpec(
            key=f"dispute-fee:{STRIPE.name}:{transaction}",
            debit_id=int(accounts[loss].id or 0),
            credit_id=int(accounts[stripe_fees].id or 0),
            amount=fee,
            kind=TransferKind.provider_fee,
            reference=transaction,
        )
        await post_transfer(session, spec)
    total = format_money(sum(fee for _, fee in fees), settings)
    return f"Stripe's dispute fee {total} booked to the instance's loss"


async def take_back(
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
