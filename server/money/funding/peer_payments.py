"""Bank credits that are a peer's settlement payment: a peer that owes this instance pays
by bank transfer and sends a signed payment notice giving the transfer's reference and
amount. A statement credit whose remittance carries that reference (letters and digits
compared, case and spaces ignored) for exactly that amount is the payment: confirming the
import confirms the notice (server/settlement/payments.py), once. A notice is held by one
bank credit at most; a notice already refused matches nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import Direction, Peer, SettlementPayment
from server.models.money_in import BankCredit, BankCreditState
from server.models.settlement import PaymentState

MIN_REFERENCE = 6  # letters and digits: shorter references would match by chance
LIVE = (PaymentState.notified.value, PaymentState.confirmed.value)


def _squeezed(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


async def payment_notices(
    session: AsyncSession, amounts: Sequence[int]
) -> list[tuple[SettlementPayment, str]]:
    """Incoming payment notices (not refused) of these amounts that no bank credit holds
    yet, with their peer's domain."""
    if not amounts:
        return []
    held = select(BankCredit.payment_id).where(
        BankCredit.state == BankCreditState.settlement, col(BankCredit.payment_id).is_not(None)
    )
    rows = await session.exec(
        select(SettlementPayment, Peer.domain)
        .join(Peer, col(Peer.id) == SettlementPayment.peer_id)
        .where(
            SettlementPayment.direction == Direction.incoming.value,
            col(SettlementPayment.state).in_(LIVE),
            col(SettlementPayment.amount).in_(sorted(set(amounts))),
            col(SettlementPayment.id).not_in(held),
        )
        .order_by(col(SettlementPayment.id))
    )
    return [(payment, domain) for payment, domain in rows.all()]


def notice_of(
    reference: str, amount: int, notices: Sequence[tuple[SettlementPayment, str]]
) -> tuple[SettlementPayment, str] | None:
    """The notice this credit pays: its reference in the remittance, the same amount."""
    text = _squeezed(reference)
    for payment, domain in notices:
        wanted = _squeezed(payment.reference)
        if payment.amount == amount and len(wanted) >= MIN_REFERENCE and wanted in text:
            return payment, domain
    return None
