"""What the "Connected accounts" page shows: each account with its status line, the networks
one may connect, and the recent likes with what each became."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.connections.networks import Networks
from server.db.engine import Database
from server.donations.periods import period_of
from server.models import (
    BridgeLike,
    BridgeLikeOutcome,
    ConnectedAccount,
    ConnectionState,
    EscrowLine,
    Identity,
)
from server.models.base import utcnow
from server.models.payouts import EscrowState
from server.money.amounts import format_money
from server.settings import Settings

RECENT_LIKES = 30
OUTCOME_LABELS = {
    BridgeLikeOutcome.counted: "counted",
    BridgeLikeOutcome.already_counted: "already counted this month",
    BridgeLikeOutcome.before_period: "liked before this month or before you connected: not charged",
    BridgeLikeOutcome.self_like: "your own: not counted",
    BridgeLikeOutcome.paused: "your donations were paused: not counted",
    BridgeLikeOutcome.unclicked: "taken back: not counted",
    BridgeLikeOutcome.refused: "could not be used: not counted",
}


def ago(then: datetime, now: datetime) -> str:
    """ "just now", "3 min ago", "2 hours ago", "5 days ago"."""
    seconds = max(int((now - then).total_seconds()), 0)
    if seconds >= 86400:
        count, unit = seconds // 86400, "day"
    elif seconds >= 3600:
        count, unit = seconds // 3600, "hour"
    elif seconds >= 60:
        return f"{seconds // 60} min ago"
    else:
        return "just now"
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def status_line(row: ConnectedAccount, label: str, this_month: int, now: datetime) -> str:
    """One sentence a donor reads: how the account is doing."""
    if row.state == ConnectionState.needs_reauth:
        return row.last_error or f"{label} asked you to sign in again"
    if row.state == ConnectionState.paused:
        return "Paused: likes given there do not count"
    if row.state == ConnectionState.revoked:
        return "Disconnected"
    likes = f"{this_month} like{'' if this_month == 1 else 's'} this month"
    if row.last_error:
        return f"{row.last_error} ({likes})"
    if row.last_checked_at is None:
        return "Checking for the first time…"
    return f"Last checked {ago(row.last_checked_at, now)}, {likes}"


@dataclass(frozen=True)
class ConnectionView:
    id: int
    network: str
    label: str
    handle: str
    profile_url: str
    state: str
    status: str
    can_pause: bool
    can_resume: bool
    can_reconnect: bool
    # As a creator: what supporters set aside for this account ("" when nothing).
    creator_line: str = ""


@dataclass(frozen=True)
class LikeView:
    network: str
    title: str
    url: str
    creator: str
    seen: datetime
    outcome: str
    counted: bool


@dataclass(frozen=True)
class NetworkChoice:
    name: str
    label: str
    asks_handle: bool
    group_claim: str = ""  # what else a creator may claim there ("organisation", "blog")


@dataclass(frozen=True)
class ConnectionsPage:
    connections: list[ConnectionView]
    likes: list[LikeView]
    networks: list[NetworkChoice]


async def _this_month(session: AsyncSession, account_id: int, now: datetime) -> dict[int, int]:
    query = (
        select(BridgeLike.connected_account_id, func.count())
        .where(
            BridgeLike.account_id == account_id,
            BridgeLike.period == period_of(now),
            BridgeLike.outcome == BridgeLikeOutcome.counted,
        )
        .group_by(col(BridgeLike.connected_account_id))
    )
    return {connection: count for connection, count in (await session.exec(query)).all()}


async def _set_aside(
    session: AsyncSession, account_id: int, rows: list[ConnectedAccount]
) -> dict[tuple[str, str], dict[EscrowState, int]]:
    """For each connected account that is one of the donor's own identities as a creator:
    what supporters' closes set aside for it, by what became of it."""
    keys = {(row.network, row.external_id) for row in rows}
    if not keys:
        return {}
    found = await session.exec(
        select(
            Identity.network, Identity.external_id, EscrowLine.state, func.sum(EscrowLine.amount)
        )
        .join(EscrowLine, col(EscrowLine.identity_id) == Identity.id)
        .where(
            col(Identity.claimed_account_id) == account_id,
            col(Identity.network).in_({network for network, _ in keys}),
        )
        .group_by(col(Identity.network), col(Identity.external_id), col(EscrowLine.state))
    )
    amounts: dict[tuple[str, str], dict[EscrowState, int]] = {}
    for network, external_id, state, total in found.all():
        if (network, external_id) in keys:
            amounts.setdefault((network, external_id), {})[EscrowState(state)] = int(total)
    return amounts


def creator_line(amounts: Mapping[EscrowState, int], settings: Settings) -> str:
    """What waited for the donor's account as a creator, in one sentence ("" for nothing)."""
    claimed = amounts.get(EscrowState.claimed, 0)
    waiting = amounts.get(EscrowState.held, 0) + amounts.get(EscrowState.offered, 0)
    parts = []
    if claimed:
        amount = format_money(claimed, settings)
        parts.append(f"{amount} that supporters set aside for this account came to you")
    if waiting:
        parts.append(f"{format_money(waiting, settings)} still waits for you")
    return "As a creator: " + "; ".join(parts) + "." if parts else ""


def _view(
    row: ConnectedAccount,
    labels: Mapping[str, str],
    counts: Mapping[int, int],
    now: datetime,
    line: str = "",
) -> ConnectionView:
    label = labels.get(row.network, row.network)
    return ConnectionView(
        id=row.id or 0,
        network=row.network,
        label=label,
        handle=row.handle or row.external_id,
        profile_url=row.profile_url if row.profile_url.startswith("https://") else "",
        state=row.state.value,
        status=status_line(row, label, counts.get(row.id or 0, 0), now),
        can_pause=row.state in (ConnectionState.active, ConnectionState.needs_reauth),
        can_resume=row.state == ConnectionState.paused,
        can_reconnect=row.state in (ConnectionState.needs_reauth, ConnectionState.revoked)
        and row.network in labels,
        creator_line=line,
    )


async def connections_page(db: Database, networks: Networks, account_id: int) -> ConnectionsPage:
    now = utcnow()
    settings = networks.settings
    offered = networks.offered()
    built = {name: networks.get(name) for name in offered}
    labels = {name: network.label for name, network in built.items()}
    async with db.reading() as session:
        rows = (
            await session.exec(
                select(ConnectedAccount)
                .where(ConnectedAccount.account_id == account_id)
                .order_by(col(ConnectedAccount.id))
            )
        ).all()
        counts = await _this_month(session, account_id, now)
        set_aside = await _set_aside(session, account_id, list(rows))
        likes = (
            await session.exec(
                select(BridgeLike)
                .where(BridgeLike.account_id == account_id)
                .order_by(col(BridgeLike.first_seen_at).desc(), col(BridgeLike.id).desc())
                .limit(RECENT_LIKES)
            )
        ).all()
    return ConnectionsPage(
        connections=[
            _view(
                row,
                labels,
                counts,
                now,
                creator_line(set_aside.get((row.network, row.external_id), {}), settings),
            )
            for row in rows
        ],
        likes=[
            LikeView(
                network=labels.get(like.network, like.network),
                title=like.title or like.item_url,
                url=like.item_url if like.item_url.startswith(("https://", "http://")) else "",
                creator=like.creator_handle,
                seen=like.liked_at or like.first_seen_at,
                outcome=OUTCOME_LABELS[like.outcome],
                counted=like.outcome == BridgeLikeOutcome.counted,
            )
            for like in likes
        ],
        networks=[
            NetworkChoice(name, network.label, network.asks_handle, network.group_claim)
            for name, network in built.items()
        ],
    )
