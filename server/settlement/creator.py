"""What peer instances settled with a local creator, per peer: promised (accepted lines of
batches not yet paid and confirmed), available (the payment was confirmed), and how many
supporters the peer's latest batch named for the creator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import (
    Direction,
    LineState,
    Peer,
    Settlement,
    SettlementLineRow,
    SettlementState,
)

# Batches whose accepted lines are booked for the creator (a refused batch has none).
BOOKED = (SettlementState.accepted, SettlementState.paid, SettlementState.confirmed)


@dataclass(frozen=True)
class PeerFunds:
    domain: str
    pending: int
    available: int
    supporters: int = 0  # the supporters the peer's latest booked batch counted

    @property
    def total(self) -> int:
        return self.pending + self.available


async def funds_by_peer(session: AsyncSession, account_id: int) -> list[PeerFunds]:
    """Per peer domain, what its batches to us hold for this creator; by domain."""
    confirmed = case((col(Settlement.state) == SettlementState.confirmed, True), else_=False)
    rows = await session.exec(
        select(Peer.domain, confirmed, func.sum(SettlementLineRow.amount))
        .join(Settlement, col(Settlement.id) == col(SettlementLineRow.settlement_id))
        .join(Peer, col(Peer.id) == col(Settlement.peer_id))
        .where(SettlementLineRow.account_id == account_id)
        .where(SettlementLineRow.state == LineState.accepted)
        .where(Settlement.direction == Direction.incoming)
        .where(col(Settlement.state).in_(BOOKED))
        .group_by(col(Peer.domain), confirmed)
    )
    found: dict[str, dict[bool, int]] = {}
    for domain, is_available, amount in rows.all():
        found.setdefault(domain, {})[bool(is_available)] = int(amount or 0)
    counted = await _latest_supporters(session, account_id)
    return [
        PeerFunds(domain, parts.get(False, 0), parts.get(True, 0), counted.get(domain, 0))
        for domain, parts in sorted(found.items())
    ]


async def _latest_supporters(session: AsyncSession, account_id: int) -> dict[str, int]:
    """Per peer domain, the supporters its latest booked batch counted for this creator (a
    person supporting in several months is one supporter, so months are not added up)."""
    rows = await session.exec(
        select(Peer.domain, Settlement.id, func.sum(SettlementLineRow.supporters))
        .join(Settlement, col(Settlement.id) == col(SettlementLineRow.settlement_id))
        .join(Peer, col(Peer.id) == col(Settlement.peer_id))
        .where(SettlementLineRow.account_id == account_id)
        .where(SettlementLineRow.state == LineState.accepted)
        .where(Settlement.direction == Direction.incoming)
        .where(col(Settlement.state).in_(BOOKED))
        .group_by(col(Peer.domain), col(Settlement.id))
        .order_by(col(Settlement.id))
    )
    return {domain: int(count or 0) for domain, _, count in rows.all()}
