"""An account statement with one peer: batches and payments in order, with the running
balance (positive: this instance owes the peer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import select

from server.db.engine import Database
from server.models import Direction, PaymentState, Settlement, SettlementPayment, SettlementState
from server.settings import Settings
from server.settlement.peering import find_peer

BOOKED = {SettlementState.accepted, SettlementState.paid, SettlementState.confirmed}


@dataclass(frozen=True)
class Entry:
    when: datetime
    text: str
    state: str
    we_owe: int = 0
    they_owe: int = 0
    balance: int = 0


@dataclass
class Statement:
    title: str
    entries: list[Entry] = field(default_factory=list)
    balance: int = 0


async def statement(db: Database, settings: Settings, domain: str) -> Statement:
    async with db.session() as session:
        peer = await find_peer(session, domain)
        batches = (
            await session.exec(select(Settlement).where(Settlement.peer_id == peer.id))
        ).all()
        payments = (
            await session.exec(
                select(SettlementPayment).where(SettlementPayment.peer_id == peer.id)
            )
        ).all()
    items: list[tuple[datetime, int, Entry]] = []
    for b in batches:
        booked = b.state in BOOKED
        out = b.direction == Direction.outgoing
        verb = "sent to" if out else "received from"
        text = f"batch {b.sequence} ({b.period}) {verb} {domain}"
        if b.rejected_total:
            text += f", {b.rejected_total} minor units of lines rejected"
        amount = b.accepted_total if booked else 0
        entry = Entry(
            b.answered_at or b.created_at, text, b.state, *((amount, 0) if out else (0, amount))
        )
        items.append((entry.when, b.id or 0, entry))
    for p in payments:
        out = p.direction == Direction.outgoing
        text = f"payment {'to' if out else 'from'} {domain}, reference {p.reference}"
        confirmed = p.state == PaymentState.confirmed
        effect = p.amount if confirmed else 0
        # A payment lowers what its payer owes; netting moves both columns equally.
        entry = Entry(
            p.answered_at or p.created_at, text, p.state, *((-effect, 0) if out else (0, -effect))
        )
        items.append((entry.when, 10**12 + (p.id or 0), entry))
    result = Statement(f"Statement with {domain} ({peer.state}, {settings.currency})")
    balance = 0
    for _, _, entry in sorted(items, key=lambda item: (item[0].replace(tzinfo=None), item[1])):
        balance += entry.we_owe - entry.they_owe
        result.entries.append(
            Entry(entry.when, entry.text, entry.state, entry.we_owe, entry.they_owe, balance)
        )
    result.balance = balance
    return result
