"""Escrow: shares set aside for creators who have not joined. After `escrow_days` they return
to the donors' wallets pro rata; a claim moves them to the claimant's available balance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, false, func, or_, union, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import Conflict, Forbidden, NotFound
from server.federation.remote import domain_of
from server.models import Actor, EscrowLine, Identity, LedgerAccount, LedgerKind, TransferKind
from server.models.base import utcnow
from server.models.payouts import EscrowState
from server.money.ledger import (
    Owner,
    TransferSpec,
    ledger_account_ids,
    post_many,
    post_transfer,
)
from server.money.split import largest_remainder
from server.settings import Settings
from server.states import advance, moving


class HeldLine(NamedTuple):
    id: int
    ledger_account_id: int
    donor_id: int
    amount: int


async def expire_escrow(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> int:
    """Return every held line older than the escrow time; returns how much went back.

    The lines are locked first (in id order), so a second run at the same time waits and
    then finds them returned; balances move in one bulk posting, in account order."""
    cutoff = (now or utcnow()) - timedelta(days=settings.escrow_days)
    rows = await session.exec(
        select(EscrowLine.id, EscrowLine.ledger_account_id, EscrowLine.donor_id, EscrowLine.amount)
        .where(EscrowLine.state == EscrowState.held, col(EscrowLine.created_at) < cutoff)
        .order_by(col(EscrowLine.id))
        .with_for_update()
    )
    by_account: dict[int, list[HeldLine]] = defaultdict(list)
    for row in rows.all():
        line = HeldLine(*row)
        by_account[line.ledger_account_id].append(line)
    returns: list[TransferSpec] = []
    for account_id, group in sorted(by_account.items()):
        returns += await _returns(session, settings, account_id, group)
    await post_many(session, returns)
    ids = sorted(line.id for group in by_account.values() for line in group)
    for start in range(0, len(ids), 5000):
        await session.exec(
            update(EscrowLine)
            .where(col(EscrowLine.id).in_(ids[start : start + 5000]))
            .where(moving(col(EscrowLine.state), EscrowState.held, to=EscrowState.returned))
            .values(state=EscrowState.returned.value, resolved_at=utcnow())
        )
    return sum(spec.amount for spec in returns)


async def _returns(
    session: AsyncSession, settings: Settings, account_id: int, lines: list[HeldLine]
) -> list[TransferSpec]:
    """The transfers giving one escrow account's expired lines back, pro rata per donor."""
    escrow = await session.get(LedgerAccount, account_id, populate_existing=True)
    owed: dict[int, int] = defaultdict(int)
    for line in lines:
        owed[line.donor_id] += line.amount
    total = min(sum(owed.values()), escrow.balance if escrow else 0)
    donors = sorted(owed)
    shares = largest_remainder(total, [owed[d] for d in donors]) if total else [0] * len(donors)
    wallets = await ledger_account_ids(
        session, settings, [Owner(LedgerKind.donor_wallet, account_id=d) for d in donors]
    )
    first = lines[0].id
    return [
        TransferSpec(
            f"escrow-return:{account_id}:{first}:{donor}",
            account_id,
            wallets[Owner(LedgerKind.donor_wallet, account_id=donor)],
            share,
            TransferKind.escrow_return,
        )
        for donor, share in zip(donors, shares, strict=True)
        if share
    ]


LOCAL_NETWORK = "fediverse"  # the one network whose identities this instance verifies itself
WEB_NETWORK = "web"


def claimable_by(account_id: int) -> ColumnElement[bool]:
    """Which identities an account may claim without an admin or a remote proof: its own
    fediverse actor, and its profile page or actor liked as web pages (web identities
    keyed by that URL). Remote accounts are claimed by links both ways (server/escrow/claims.py)."""
    mine = Actor.account_id == account_id
    uri, page = col(Actor.uri), col(Actor.url)
    own_urls = union(
        select(uri).where(mine),
        select(page).where(mine),
        select(uri + "/").where(mine),
        select(page + "/").where(mine),
    )
    return or_(
        and_(
            col(Identity.network) == LOCAL_NETWORK,
            col(Identity.external_id).in_(select(Actor.uri).where(mine)),
        ),
        and_(col(Identity.network) == WEB_NETWORK, col(Identity.external_id).in_(own_urls)),
    )


@dataclass(frozen=True)
class Claim:
    identity: Identity
    moved: int
    already_claimed: bool  # by this account, before this claim


@dataclass(frozen=True)
class Waiting:
    """Escrow an account can claim: the identity, the amount held and from how many donors."""

    identity: Identity
    amount: int
    supporters: int


async def claim_identity(
    session: AsyncSession,
    settings: Settings,
    identity_id: int,
    account_id: int,
    *,
    verified: bool = False,
) -> Claim:
    """Claim an identity for a local account and move its escrow to the account's available
    balance. Without `verified` (an admin's word, or a proof checked by the caller), only
    what `claimable_by` allows, or an identity the account claimed before. Claiming again
    moves only what arrived since (usually nothing)."""
    # Read again under the lock: the caller may hold a copy from before a rival's claim.
    # FOR NO KEY UPDATE on PostgreSQL: a row that references the identity (a new escrow
    # account's foreign key) can still be written meanwhile.
    identity = await session.get(
        Identity, identity_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if identity is None:
        raise NotFound("no such identity")
    if not verified:
        allowed = await session.exec(
            select(Identity.id).where(
                Identity.id == identity_id,
                or_(claimable_by(account_id), col(Identity.claimed_account_id) == account_id),
            )
        )
        if allowed.first() is None:
            raise Forbidden(
                "this identity is not yours to claim here: only your own account's, or a "
                "fediverse account whose profile links to yours"
            )
    if identity.claimed_account_id not in (None, account_id):
        raise Conflict("this identity is already claimed by another account")
    if identity.claimed_by_actor_uri:
        raise Conflict(
            f"this identity is claimed by {identity.claimed_by_actor_uri} on a peer instance; "
            "ask the admin here to look at it"
        )
    already = identity.claimed_account_id == account_id
    identity.claimed_account_id = account_id
    identity.claimed_at = identity.claimed_at or utcnow()
    session.add(identity)
    moved = await _move_escrow(session, settings, identity, account_id)
    return Claim(identity, moved, already)


def _held_for_peer(identity: Identity) -> ColumnElement[bool]:
    """A remote fediverse creator's lines, held in escrow for its instance: the close keys
    them by the actor's host and URI (and has none for this instance's own actors)."""
    host = domain_of(identity.external_id)
    if identity.network != LOCAL_NETWORK or not host:
        return false()
    return and_(
        col(EscrowLine.peer_domain) == host, col(EscrowLine.creator_uri) == identity.external_id
    )


def held_lines(identity: Identity, escrow_id: int | None) -> ColumnElement[bool]:
    """Held lines of an identity: in its identity escrow, or held for its instance."""
    return _held_lines(identity, escrow_id)


def _held_lines(identity: Identity, escrow_id: int | None) -> ColumnElement[bool]:
    in_escrow = false() if escrow_id is None else col(EscrowLine.ledger_account_id) == escrow_id
    held = col(EscrowLine.state) == EscrowState.held
    return and_(held, or_(in_escrow, _held_for_peer(identity)))


async def waiting_for(session: AsyncSession, account_id: int) -> list[Waiting]:
    """What this account may claim: its own identities not claimed yet, and those it has
    claimed that still hold escrow (shares a close set aside before or during the claim)."""
    identities = await session.exec(
        select(Identity)
        .where(
            or_(
                and_(claimable_by(account_id), col(Identity.claimed_account_id).is_(None)),
                col(Identity.claimed_account_id) == account_id,
            )
        )
        .order_by(col(Identity.id))
    )
    found = []
    for identity in identities.all():
        amount, supporters = await held_for(session, identity)
        if identity.claimed_account_id is None or amount > 0:
            found.append(Waiting(identity, amount, supporters))
    return found


async def held_for(session: AsyncSession, identity: Identity) -> tuple[int, int]:
    """(amount held, distinct donors) for an identity: its identity escrow and its lines
    held for its instance."""
    key = Owner(LedgerKind.escrow_identity, identity_id=identity.id).key
    escrow = (
        await session.exec(
            select(LedgerAccount.id, LedgerAccount.balance).where(LedgerAccount.key == key)
        )
    ).first()
    escrow_id, balance = (escrow[0], int(escrow[1])) if escrow else (None, 0)
    lines = _held_lines(identity, escrow_id)
    peer = await session.exec(
        select(func.coalesce(func.sum(EscrowLine.amount), 0)).where(lines, _held_for_peer(identity))
    )
    donors = await session.exec(select(func.count(func.distinct(EscrowLine.donor_id))).where(lines))
    return balance + int(peer.one()), int(donors.one())


async def _move_escrow(
    session: AsyncSession, settings: Settings, identity: Identity, account_id: int
) -> int:
    """Move the identity's escrow and its lines held for its instance to the account's
    available balance: one transfer per escrow account, the lines locked in id order
    (as the expiry locks them) and marked claimed."""
    identity_id = int(identity.id or 0)
    escrow_owner = Owner(LedgerKind.escrow_identity, identity_id=identity_id)
    target_owner = Owner(LedgerKind.creator_available, account_id=account_id)
    ids = await ledger_account_ids(session, settings, [escrow_owner, target_owner])
    escrow_id, target = ids[escrow_owner], ids[target_owner]
    lines = (
        await session.exec(
            select(EscrowLine)
            .where(_held_lines(identity, escrow_id))
            .order_by(col(EscrowLine.id))
            .with_for_update()
        )
    ).all()
    own = [line for line in lines if line.ledger_account_id == escrow_id]
    moved = await _move_identity_escrow(session, identity_id, escrow_id, target, own)
    by_account: dict[int, list[EscrowLine]] = defaultdict(list)
    for line in lines:
        if line.ledger_account_id != escrow_id:
            by_account[line.ledger_account_id].append(line)
    for source, group in sorted(by_account.items()):
        amount = sum(line.amount for line in group)
        key = f"escrow-claim-peer:{identity_id}:{group[0].id}"
        reference = f"identity:{identity_id}"
        await post_transfer(
            session,
            TransferSpec(
                key, source, target, amount, TransferKind.escrow_claim, reference=reference
            ),
        )
        moved += amount
    for line in lines:
        advance(line, EscrowState.claimed)
        line.resolved_at = utcnow()
        session.add(line)
    return moved


async def _move_identity_escrow(
    session: AsyncSession, identity_id: int, escrow_id: int, target: int, lines: list[EscrowLine]
) -> int:
    escrow = await session.get(LedgerAccount, escrow_id, populate_existing=True)
    amount = escrow.balance if escrow else 0
    if amount > 0:
        key = f"escrow-claim:{identity_id}:{lines[0].id if lines else 0}:{amount}"
        spec = TransferSpec(
            key,
            escrow_id,
            target,
            amount,
            TransferKind.escrow_claim,
            reference=f"identity:{identity_id}",
        )
        await post_transfer(session, spec)
    return amount
