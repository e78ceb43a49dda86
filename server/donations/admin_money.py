"""The admin money page's readings: open payouts named by their account's handle, the
exported payout batches, and the instance's loss account (refunds and disputes of money a
donor had already spent, issue 17) with its lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import Account, LedgerAccount, LedgerKind, Payout, PayoutBatch, Transfer
from server.models.payouts import PayoutState
from server.models.stripe_payments import StripeCheckout
from server.money.ledger import Owner

OPEN_PAYOUTS = (PayoutState.requested.value, PayoutState.approved.value)
RECENT_BATCHES = 10
LOSS_LINES = 50


@dataclass(frozen=True)
class OpenPayout:
    payout: Payout
    handle: str  # the account's username


@dataclass(frozen=True)
class Batch:
    batch: PayoutBatch
    payouts: int


@dataclass(frozen=True)
class LossLine:
    when: datetime
    amount: int  # what the instance lost (positive), or got back (negative)
    kind: str
    reference: str  # the payment's id at its provider
    donor: str  # whose payment it was, when known


async def open_payouts(session: AsyncSession) -> list[OpenPayout]:
    found = await session.exec(
        select(Payout, Account.username)
        .join(Account, col(Account.id) == col(Payout.account_id))
        .where(col(Payout.state).in_(OPEN_PAYOUTS))
        .order_by(col(Payout.id).desc())
    )
    return [OpenPayout(payout, handle) for payout, handle in found.all()]


async def recent_batches(session: AsyncSession) -> list[Batch]:
    counted = (
        select(Payout.batch_id, func.count().label("payouts"))
        .where(col(Payout.batch_id).is_not(None))
        .group_by(col(Payout.batch_id))
        .subquery()
    )
    found = await session.exec(
        select(PayoutBatch, func.coalesce(counted.c.payouts, 0))
        .outerjoin(counted, counted.c.batch_id == col(PayoutBatch.id))
        .order_by(col(PayoutBatch.id).desc())
        .limit(RECENT_BATCHES)
    )
    return [Batch(batch, int(count)) for batch, count in found.all()]


async def loss_account(session: AsyncSession) -> tuple[int, list[LossLine]]:
    """The instance's loss (minus its account's balance: it is debited) and its lines."""
    account = (
        await session.exec(
            select(LedgerAccount).where(LedgerAccount.key == Owner(LedgerKind.instance_loss).key)
        )
    ).first()
    if account is None:
        return 0, []
    found = await session.exec(
        select(Transfer, Account.username)
        .outerjoin(StripeCheckout, col(StripeCheckout.payment_intent) == col(Transfer.reference))
        .outerjoin(Account, col(Account.id) == col(StripeCheckout.donor_id))
        .where(or_(col(Transfer.debit_id) == account.id, col(Transfer.credit_id) == account.id))
        .order_by(col(Transfer.id).desc())
        .limit(LOSS_LINES)
    )
    lines = [
        LossLine(
            transfer.created_at,
            transfer.amount if transfer.debit_id == account.id else -transfer.amount,
            str(transfer.kind),
            transfer.reference,
            donor or "",
        )
        for transfer, donor in found.all()
    ]
    return -account.balance, lines


async def approved_payouts(session: AsyncSession) -> int:
    """How many payouts are approved and wait for the SEPA export."""
    counted = await session.exec(
        select(func.count()).where(col(Payout.state) == PayoutState.approved.value)
    )
    return int(counted.one())
