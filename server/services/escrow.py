"""Escrow: shares set aside for creators who have not joined. After `escrow_days` they return
to the donors' wallets pro rata; a claim moves them to the claimant's available balance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import Actor, EscrowLine, Identity, LedgerAccount, LedgerKind
from server.models.base import utcnow
from server.models.payouts import EscrowState
from server.services.errors import Conflict, Forbidden, NotFound
from server.services.ledger import (
    Owner,
    TransferSpec,
    ledger_account_ids,
    post_many,
    post_transfer,
)
from server.services.split import largest_remainder
from server.settings import Settings


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
            "escrow_return",
        )
        for donor, share in zip(donors, shares, strict=True)
        if share
    ]


LOCAL_NETWORK = "fediverse"  # the one network whose identities this instance verifies itself


def claimable_by(account_id: int) -> ColumnElement[bool]:
    """Which identities an account may claim without an admin: its own fediverse actor
    (other networks arrive with the bridges, each with its own proof)."""
    own = select(Actor.uri).where(Actor.account_id == account_id)
    return and_(col(Identity.network) == LOCAL_NETWORK, col(Identity.external_id).in_(own))


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
    balance. Without `verified` (an admin's word), only what `claimable_by` allows. Claiming
    again moves only what arrived since (usually nothing)."""
    identity = await session.get(Identity, identity_id, with_for_update=True)
    if identity is None:
        raise NotFound("no such identity")
    if not verified:
        allowed = await session.exec(
            select(Identity.id).where(Identity.id == identity_id, claimable_by(account_id))
        )
        if allowed.first() is None:
            raise Forbidden("only your own fediverse actor can be claimed here")
    if identity.claimed_account_id not in (None, account_id):
        raise Conflict("this identity is already claimed by another account")
    already = identity.claimed_account_id == account_id
    identity.claimed_account_id = account_id
    identity.claimed_at = identity.claimed_at or utcnow()
    session.add(identity)
    moved = await _move_escrow(session, settings, identity_id, account_id)
    return Claim(identity, moved, already)


async def waiting_for(session: AsyncSession, account_id: int) -> list[Waiting]:
    """What this account may claim itself: identities not claimed yet, and its own that
    still hold escrow (shares a close set aside before the claim)."""
    identities = await session.exec(
        select(Identity)
        .where(
            claimable_by(account_id),
            or_(
                col(Identity.claimed_account_id).is_(None),
                col(Identity.claimed_account_id) == account_id,
            ),
        )
        .order_by(col(Identity.id))
    )
    found = []
    for identity in identities.all():
        key = Owner(LedgerKind.escrow_identity, identity_id=identity.id).key
        amount = (
            await session.exec(select(LedgerAccount.balance).where(LedgerAccount.key == key))
        ).first() or 0
        donors = await session.exec(
            select(func.count(func.distinct(EscrowLine.donor_id))).where(
                EscrowLine.identity_id == identity.id, EscrowLine.state == EscrowState.held
            )
        )
        if identity.claimed_account_id is None or amount > 0:
            found.append(Waiting(identity, int(amount), int(donors.one())))
    return found


async def _move_escrow(
    session: AsyncSession, settings: Settings, identity_id: int, account_id: int
) -> int:
    escrow_owner = Owner(LedgerKind.escrow_identity, identity_id=identity_id)
    target_owner = Owner(LedgerKind.creator_available, account_id=account_id)
    ids = await ledger_account_ids(session, settings, [escrow_owner, target_owner])
    lines = (
        await session.exec(
            select(EscrowLine)
            .where(
                EscrowLine.ledger_account_id == ids[escrow_owner],
                EscrowLine.state == EscrowState.held,
            )
            .order_by(col(EscrowLine.id))
            .with_for_update()
        )
    ).all()
    escrow = await session.get(LedgerAccount, ids[escrow_owner], populate_existing=True)
    amount = escrow.balance if escrow else 0
    if amount > 0:
        key = f"escrow-claim:{identity_id}:{lines[0].id if lines else 0}:{amount}"
        spec = TransferSpec(key, ids[escrow_owner], ids[target_owner], amount, "escrow_claim")
        await post_transfer(session, spec)
    for line in lines:
        line.state = EscrowState.claimed.value
        line.resolved_at = utcnow()
        session.add(line)
    return amount
