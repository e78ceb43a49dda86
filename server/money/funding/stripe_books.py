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
A dispute won undoes its own lines, once (`reinstated`):
    outside_world ──reversal──▶ donor_wallet                 (what left the wallet)
    outside_world ──reversal_loss──▶ instance_loss           (what the loss took)
    provider_fees:stripe ──provider_fee──▶ instance_loss     (a dispute fee Stripe returned)
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import DonorSettings, LedgerKind, Transfer, TransferKind
from server.models.base import utcnow
from server.models.stripe_payments import StripeCheckout, StripeEvent, WalletNotice
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

log = logging.getLogger("likewise.stripe")
FAILED = "failed"


def dispute_key(dispute: str) -> str:
    """What a dispute's transfers are keyed by (`reverse:stripe:dispute:<id>`, …)."""
    return f"dispute:{dispute}"


def reinstated_marker(dispute: str) -> str:
    """The `stripe_event` row saying a dispute was decided in the donor's favour (booked
    once, whichever of its events says so first; a late `charge.dispute.created` then takes
    nothing)."""
    return f"dispute-won:{dispute}"


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
    if await session.get(StripeEvent, reinstated_marker(dispute)) is not None:
        # Decided in the donor's favour before this event came: nothing was lost.
        return f"dispute {dispute}: won before it was told, nothing taken back"
    keyed = dispute_key(dispute)
    out, lost, _ = await dispute_booking(session, dispute, row.payment_intent or "")
    if (out, lost) != (None, None):
        return f"dispute {dispute}: taken back before"
    # A dispute adds to what was taken back before it.
    target = row.taken_back + amount
    done = await take_back(session, settings, row, keyed, target, f"dispute {dispute}")
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
    the wallet up to its balance, the rest from the instance's loss account. The transfers
    are keyed by `event_id` (a refund's event; a dispute's `dispute_key`)."""
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
    paused_at = None
    if moving > from_wallet:
        lost, _ = await post_transfer(
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
        paused_at = lost.created_at
    row.taken_back = target
    session.add(row)
    short = owed - from_wallet
    await _tell(session, settings, row, from_wallet, (short, paused_at), what)
    return f"{what}: {from_wallet} from the wallet, {moving - from_wallet} to the instance's loss"


async def _tell(
    session: AsyncSession,
    settings: Settings,
    row: StripeCheckout,
    from_wallet: int,
    shortfall: tuple[int, datetime | None],
    what: str,
) -> None:
    """The donor's notice; a shortfall pauses the budget, marked by the time of the loss's
    transfer (a won dispute resumes a pause still so marked: nothing changed it since)."""
    short, at = shortfall
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
            donor = DonorSettings(account_id=row.donor_id, monthly_budget=settings.budget_default)
        if not donor.paused:  # a budget paused before stays the donor's (or another's) pause
            donor.paused, donor.updated_at = True, at or utcnow()
            session.add(donor)
    session.add(WalletNotice(account_id=row.donor_id, message=message[:500]))


# A dispute decided in the donor's favour


async def dispute_booking(
    session: AsyncSession, dispute: str, reference: str
) -> tuple[Transfer | None, Transfer | None, bool]:
    """The transfers a dispute booked: (out of the wallet, to the instance's loss, whether
    they are keyed by the dispute's event, as before commit 8a3b529)."""
    keyed = dispute_key(dispute)
    keys = [f"reverse:{STRIPE.name}:{keyed}", f"reverse-loss:{STRIPE.name}:{keyed}"]
    rows = await session.exec(select(Transfer).where(col(Transfer.idempotency_key).in_(keys)))
    found = {row.idempotency_key: row for row in rows.all()}
    if found:
        return found.get(keys[0]), found.get(keys[1]), False
    out, lost = await _booking_by_event(session, dispute, reference)
    return out, lost, (out, lost) != (None, None)


DISPUTE_OPENED = "charge.dispute.created"


async def _booking_by_event(
    session: AsyncSession, dispute: str, reference: str
) -> tuple[Transfer | None, Transfer | None]:
    """A dispute booked before commit 8a3b529: its transfers were keyed by its
    `charge.dispute.created` event (`reverse:stripe:<event id>`, `reverse-loss:…`), as a
    refund's still are. The stripe_event row keeps no payload and no object id, but its
    outcome is the handler's answer, and `disputed` has always answered `dispute <id>: …`
    (take_back's `what`); so the dispute's opening events are those of that type whose
    outcome begins with `dispute <id>:` (the colon ends the id: du_1 is not du_10). A
    refund's transfers are keyed by a `charge.refunded` event and are never taken; the
    transfers must also be reversals of this payment (their reference is its payment
    intent)."""
    if not reference:
        return None, None
    opened = select(StripeEvent.event_id).where(
        StripeEvent.type == DISPUTE_OPENED,
        col(StripeEvent.outcome).startswith(f"dispute {dispute}:", autoescape=True),
    )
    events = sorted((await session.exec(opened)).all())
    if not events:
        return None, None
    out_keys = [f"reverse:{STRIPE.name}:{event}" for event in events]
    lost_keys = [f"reverse-loss:{STRIPE.name}:{event}" for event in events]
    rows = await session.exec(
        select(Transfer).where(
            col(Transfer.idempotency_key).in_(out_keys + lost_keys),
            Transfer.reference == reference,
            col(Transfer.kind).in_([TransferKind.reversal, TransferKind.reversal_loss]),
        )
    )
    found = {row.idempotency_key: row for row in rows.all()}
    # Stripe opens a dispute once (one `charge.dispute.created`): the first event found
    # with transfers is it.
    out = next((found[key] for key in out_keys if key in found), None)
    lost = next((found[key] for key in lost_keys if key in found), None)
    return out, lost


def _returned_fees(found: dict[str, Any], currency: str) -> list[tuple[str, int]]:
    """(balance transaction id, fee returned) of the dispute's reinstatements in the
    instance's currency: Stripe books a returned dispute fee as a negative `fee` on the
    balance transaction that gives the disputed amount back."""
    listed = found.get("balance_transactions")
    if not isinstance(listed, list):
        return []
    fees: list[tuple[str, int]] = []
    for item in listed:
        if not isinstance(item, dict) or item.get("currency") != currency.lower():
            continue
        amount, fee = item.get("amount"), item.get("fee")
        if isinstance(amount, int) and amount > 0 and isinstance(fee, int) and fee < 0:
            fees.append((text_of(item.get("id"), "balance transaction id"), -fee))
    return fees


async def _fees_booked(session: AsyncSession, found: dict[str, Any], currency: str) -> int:
    """What this instance booked as the dispute's fee (of the withdrawals the event lists)."""
    keys = [f"dispute-fee:{STRIPE.name}:{txn}" for txn, _ in _withdrawal_fees(found, currency)]
    if not keys:
        return 0
    rows = await session.exec(
        select(Transfer.amount).where(col(Transfer.idempotency_key).in_(keys))
    )
    return sum(int(amount) for amount in rows.all())


async def dispute_closed(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    """`charge.dispute.closed`: a won dispute gives the money back (as
    `charge.dispute.funds_reinstated` does; booked once); a lost one was booked when it
    was opened, and nothing more moves."""
    dispute = text_of(found.get("id"), "dispute id")
    status = found.get("status")
    if status == "won":
        return await reinstated(session, settings, event_id, found)
    if status == "lost":
        return f"dispute {dispute} lost: taken back when it was opened, nothing more"
    return f"dispute {dispute} closed ({str(status)[:40]}): nothing to book"


async def reinstated(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    """A dispute decided in the donor's favour: undo what the dispute booked (the wallet's
    part back to the wallet, the loss's part back out of the loss account), book the dispute
    fee Stripe returned (as its balance transactions say), resume a budget the dispute
    paused when nothing changed it since, and tell the donor. Once per dispute."""
    dispute = text_of(found.get("id"), "dispute id")
    amount = minor_of(found.get("amount"), "amount")
    intent = found.get("payment_intent")
    row = await payment_by(session, payment_intent=intent) if isinstance(intent, str) else None
    if row is not None and row.credited_at is None:
        raise NotYet(f"the payment {intent} is not credited yet; deliver this event again later")
    currency = found.get("currency")
    if row is not None and (not isinstance(currency, str) or currency.upper() != row.currency):
        raise WebhookRefused(f"the dispute is in {currency!r}, not {row.currency}")
    marker = StripeEvent(event_id=reinstated_marker(dispute), type="dispute won")
    if await session.get(StripeEvent, marker.event_id) is not None:
        return f"dispute {dispute}: given back before"
    try:
        async with session.begin_nested():
            session.add(marker)
    except IntegrityError:
        return f"dispute {dispute}: given back before"
    if row is None:
        # Not a payment of ours, or one whose Checkout session has not named its payment
        # intent yet: the marker makes its dispute, if it comes later, take nothing.
        log.warning("event=dispute_won_unknown dispute=%s payment=%s", dispute, str(intent)[:80])
        marker.outcome = "not about a payment credited here: nothing booked"
        session.add(marker)
        return f"dispute {dispute} is not about a payment of this instance: nothing booked"
    out, lost, by_event = await dispute_booking(session, dispute, row.payment_intent or "")
    fee_kept = await _fees_booked(session, found, row.currency)
    if out is None and lost is None and not fee_kept:
        marker.outcome = "won before it was booked: nothing taken, nothing given back"
        session.add(marker)
        log.warning("event=dispute_won_unbooked dispute=%s payment=%s", dispute, intent)
        return f"dispute {dispute} won before it was booked: nothing booked"
    # What the dispute took, as far as the amount Stripe gives back reaches (the wallet first).
    took_wallet, took_loss = (out.amount if out else 0), (lost.amount if lost else 0)
    to_wallet = min(took_wallet, amount)
    to_loss = min(took_loss, amount - to_wallet)
    await _give_back(session, settings, row, dispute, to_wallet, to_loss)
    fee_back = await _book_fee_back(session, settings, found, row.currency, fee_kept)
    row.taken_back = max(0, row.taken_back - to_wallet - to_loss)
    session.add(row)
    # A dispute booked before 8a3b529 marked its pause with the time of the booking, not of
    # its loss transfer: nothing proves the pause is still the dispute's, so it stays (the
    # donor is told the money is back and resumes the budget herself).
    resumed = False if by_event else await _resume(session, row.donor_id, lost)
    marker.outcome = f"{to_wallet} to the wallet, {to_loss} and fee {fee_back} to the loss"
    if by_event:
        marker.outcome += " (booked by its event)"
    session.add(marker)
    if to_wallet or to_loss:
        _tell_won(session, settings, row, to_wallet, resumed)
    return f"dispute {dispute} won: {marker.outcome}"


def _tell_won(
    session: AsyncSession, settings: Settings, row: StripeCheckout, to_wallet: int, resumed: bool
) -> None:
    message = (
        f"The dispute over your payment of {format_money(row.total, settings)} was decided in "
        f"your favour: {format_money(to_wallet, settings)} is back in your wallet."
    )
    if resumed:
        message += " Your monthly budget runs again."
    session.add(WalletNotice(account_id=row.donor_id, message=message[:500]))


async def _give_back(
    session: AsyncSession,
    settings: Settings,
    row: StripeCheckout,
    dispute: str,
    to_wallet: int,
    to_loss: int,
) -> None:
    wallet, world, loss = (
        Owner(LedgerKind.donor_wallet, account_id=row.donor_id),
        Owner(LedgerKind.outside_world),
        Owner(LedgerKind.instance_loss),
    )
    accounts = await ledger_accounts(session, settings, [wallet, world, loss])
    keyed, reference = dispute_key(dispute), row.payment_intent or ""
    for amount, to, key, kind in (
        (to_wallet, wallet, f"reinstate:{STRIPE.name}:{keyed}", TransferKind.reversal),
        (to_loss, loss, f"reinstate-loss:{STRIPE.name}:{keyed}", TransferKind.reversal_loss),
    ):
        if amount:
            spec = TransferSpec(
                key,
                int(accounts[world].id or 0),
                int(accounts[to].id or 0),
                amount,
                kind,
                reference=reference,
            )
            await post_transfer(session, spec)


async def _book_fee_back(
    session: AsyncSession, settings: Settings, found: dict[str, Any], currency: str, kept: int
) -> int:
    """The dispute fee Stripe returned, from its fee account back to the instance's loss
    (once per balance transaction, never more than was booked as the dispute's fee)."""
    returned = _returned_fees(found, currency)
    if not returned or not kept:
        return 0
    loss, stripe_fees = Owner(LedgerKind.instance_loss), fees_owner()
    accounts = await ledger_accounts(session, settings, [loss, stripe_fees])
    booked = 0
    for transaction, fee in returned:
        amount = min(fee, kept - booked)
        if amount <= 0:
            break
        spec = TransferSpec(
            key=f"dispute-fee-back:{STRIPE.name}:{transaction}",
            debit_id=int(accounts[stripe_fees].id or 0),
            credit_id=int(accounts[loss].id or 0),
            amount=amount,
            kind=TransferKind.provider_fee,
            reference=transaction,
        )
        await post_transfer(session, spec)
        booked += amount
    return booked


async def _resume(session: AsyncSession, donor_id: int, lost: Transfer | None) -> bool:
    """Resume the budget when the dispute paused it and nothing changed it since (the
    pause is marked with the time of the dispute's loss transfer: another pause, the
    donor's own or another payment's, marks it otherwise)."""
    if lost is None:
        return False
    donor = await session.get(DonorSettings, donor_id, with_for_update=True)
    if donor is None or not donor.paused or donor.updated_at != lost.created_at:
        return False
    donor.paused, donor.updated_at = False, utcnow()
    session.add(donor)
    return True
