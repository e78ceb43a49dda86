"""Settlement batches: what one instance's donors owe another instance's creators.

Sender: held escrow lines for a peer's creators become one signed batch per peer and
period (only for payable creators, within the credit limit); the lines wait as
"offered" until the receipt comes. The receipt moves the accepted total from the peer's
escrow to what we owe the peer; rejected lines go back to escrow (held again for the
peer when the credit limit was the reason, else to the creator's identity escrow).

The receiving side is server/settlement/incoming.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.errors import ActivityPubError
from activitypub.settlement import (
    Amount,
    BatchOffer,
    BatchReceipt,
    BatchRejection,
    LineRejection,
    SettlementLine,
    batch_digest,
    build_batch_offer,
    check_receipt,
    envelope_fields,
    parse_batch_offer,
)
from server.db.bulk import insert_rows
from server.db.engine import Database
from server.domain_errors import Kind
from server.federation.remote import ACTOR_TTL_SECONDS, RemoteActors, RemoteError, domain_of
from server.models import (
    Actor,
    Click,
    Direction,
    EscrowLine,
    LedgerKind,
    LineState,
    Peer,
    PeerState,
    Settlement,
    SettlementLineRow,
    SettlementState,
    TransferKind,
)
from server.models.base import utcnow
from server.models.payouts import EscrowState
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from server.settings import Settings
from server.settlement.documents import (
    LocalSigner,
    SettlementRefused,
    dumps,
    loads,
    local_signer,
    queue_send,
)
from server.settlement.peering import peer_balance
from server.states import advance, moving

CHUNK = 500
LINE_COLUMNS = (
    "settlement_id",
    "position",
    "creator_uri",
    "account_id",
    "identity_id",
    "amount",
    "supporters",
    "state",
    "reason",
)
LINE_PG_TYPES = (
    "bigint",
    "int",
    "varchar",
    "bigint",
    "bigint",
    "bigint",
    "int",
    "varchar",
    "varchar",
)


def chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


# --- sending ------------------------------------------------------------------------------


def payment_link_is_own(actor: Actor) -> bool:
    """A payment link counts only on the actor's own domain (never trust another)."""
    return bool(actor.payment_link) and domain_of(actor.payment_link) == domain_of(actor.uri)


def _fresh(actor: Actor) -> bool:
    if actor.is_local:
        return True
    if actor.fetched_at is None:
        return False
    fetched = actor.fetched_at
    if fetched.tzinfo is None:
        fetched = fetched.replace(tzinfo=UTC)
    return (utcnow() - fetched).total_seconds() < ACTOR_TTL_SECONDS


async def payable_creators(
    db: Database, remote: RemoteActors, creators: Sequence[str]
) -> tuple[set[str], set[str]]:
    """(payable, not payable) among these actor URIs. Fresh cached actors are read in bulk;
    unknown or stale ones are fetched. Raises RemoteError when the peer cannot be asked
    (it is down), so nothing is decided on missing information."""
    cached: dict[str, Actor] = {}
    async with db.session() as session:
        for part in chunks(sorted(set(creators))):
            rows = await session.exec(select(Actor).where(col(Actor.uri).in_(part)))
            cached.update((actor.uri, actor) for actor in rows.all())
    payable: set[str] = set()
    refused: set[str] = set()
    for uri in creators:
        actor = cached.get(uri)
        if actor is None or not _fresh(actor):
            try:
                actor = await remote.get_actor(uri, refresh=actor is not None)
            except RemoteError as error:
                if error.gone:
                    refused.add(uri)
                    continue
                raise
        good = payment_link_is_own(actor) and actor.tombstoned_at is None
        (payable if good else refused).add(uri)
    return payable, refused


async def _held_creators(db: Database, domain: str) -> list[str]:
    async with db.session() as session:
        rows = await session.exec(
            select(EscrowLine.creator_uri)
            .where(EscrowLine.peer_domain == domain, EscrowLine.state == EscrowState.held)
            .distinct()
        )
        return sorted(rows.all())


async def rehome_to_identity(
    session: AsyncSession,
    settings: Settings,
    domain: str,
    lines: Sequence[EscrowLine],
    why: TransferKind,
) -> None:
    """Move held or offered lines from the peer's escrow to their creators' identity escrow
    (claimable, and returned to the donors when it expires). A line a claim or the expiry
    resolved since the caller read it is left alone: its amount has left the peer's escrow."""
    by_identity: dict[int, list[EscrowLine]] = defaultdict(list)
    for line in await _still_as_read(session, domain, lines):
        by_identity[line.identity_id].append(line)
    if not by_identity:
        return
    source = Owner(LedgerKind.escrow_peer, peer_domain=domain)
    owners = [source] + [Owner(LedgerKind.escrow_identity, identity_id=i) for i in by_identity]
    ids = await ledger_account_ids(session, settings, owners)
    for identity, group in sorted(by_identity.items()):
        target = ids[Owner(LedgerKind.escrow_identity, identity_id=identity)]
        first = min(line.id or 0 for line in group)
        amount = sum(line.amount for line in group)
        key = f"escrow-rehome:{identity}:{first}"
        await post_transfer(session, TransferSpec(key, ids[source], target, amount, why))
        for line in group:
            line.ledger_account_id, line.peer_domain = target, ""
            advance(line, EscrowState.held)
            line.settlement_id = None
            session.add(line)


async def _still_as_read(
    session: AsyncSession, domain: str, lines: Sequence[EscrowLine]
) -> list[EscrowLine]:
    """These lines locked in id order and read again (a stale ORM object is not trusted):
    those still in the peer's escrow in the held or offered state the caller saw."""
    expected = {line.id: line.state for line in lines}
    movable = (EscrowState.held.value, EscrowState.offered.value)
    ids = sorted(i for i, state in expected.items() if i is not None and state in movable)
    current: list[EscrowLine] = []
    for start in range(0, len(ids), CHUNK):
        rows = await session.exec(
            select(EscrowLine)
            .where(col(EscrowLine.id).in_(ids[start : start + CHUNK]))
            .where(EscrowLine.peer_domain == domain)
            .order_by(col(EscrowLine.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        current += [line for line in rows.all() if line.state == expected[line.id]]
    return current


@dataclass
class _Draft:
    period: str
    lines: list[SettlementLine]
    escrow_ids: list[int]


def _click_uri(settings: Settings, click_id: int, source_ref: str | None) -> str:
    if source_ref and source_ref.startswith(("https://", "http://")):
        return source_ref
    return f"{settings.base_url}/clicks/{click_id}"


async def _open_exposure(session: AsyncSession, settings: Settings, peer: Peer) -> int:
    """What we owe the peer or have offered it and not yet had answered."""
    balance = await peer_balance(session, settings, peer)
    offered = await session.exec(
        select(func.coalesce(func.sum(Settlement.total), 0)).where(
            Settlement.peer_id == peer.id,
            Settlement.direction == Direction.outgoing,
            Settlement.state == SettlementState.offered,
        )
    )
    return balance.we_owe + int(offered.one())


async def _drafts(
    session: AsyncSession, settings: Settings, peer: Peer, payable: set[str]
) -> list[_Draft]:
    rows = (
        await session.exec(
            select(EscrowLine, Click.source_ref)
            .join(Click, col(Click.id) == col(EscrowLine.click_id), isouter=True)
            .where(EscrowLine.peer_domain == peer.domain, EscrowLine.state == EscrowState.held)
            .order_by(col(EscrowLine.period), col(EscrowLine.creator_uri), col(EscrowLine.id))
            # prepare_batches holds these locks already; a line a close added since, which a
            # claim holds, waits for the next batch instead of for the claim
            .with_for_update(of=EscrowLine, skip_locked=True)
        )
    ).all()
    room = peer.credit_limit - await _open_exposure(session, settings, peer)
    grouped: dict[str, dict[str, list[tuple[EscrowLine, str | None]]]] = defaultdict(dict)
    for line, ref in rows:
        if line.creator_uri in payable:
            grouped[line.period].setdefault(line.creator_uri, []).append((line, ref))
    drafts = []
    for period in sorted(grouped):
        draft = _Draft(period, [], [])
        for creator, items in grouped[period].items():
            amount = sum(line.amount for line, _ in items)
            if amount > room:
                continue  # waits for the next batch, after a payment makes room
            room -= amount
            clicks = tuple(dict.fromkeys(_click_uri(settings, e.click_id, r) for e, r in items))
            supporters = len({line.donor_id for line, _ in items})
            unit = Amount(amount, settings.currency, settings.currency_scale)
            draft.lines.append(SettlementLine(creator, unit, supporters, clicks))
            draft.escrow_ids.extend(line.id or 0 for line, _ in items)
        if draft.lines:
            drafts.append(draft)
    return drafts


async def next_sequence(session: AsyncSession, peer: Peer, direction: Direction) -> int:
    result = await session.exec(
        select(func.coalesce(func.max(Settlement.sequence), 0)).where(
            Settlement.peer_id == peer.id,
            Settlement.direction == direction,
            Settlement.state != SettlementState.refused,
        )
    )
    return int(result.one()) + 1


async def _offer(
    session: AsyncSession, settings: Settings, signer: LocalSigner, peer: Peer, draft: _Draft
) -> Settlement:
    offer = BatchOffer(
        **envelope_fields(signer.envelope(settings, peer.actor_uri)),
        period=draft.period,
        sequence=await next_sequence(session, peer, Direction.outgoing),
        currency=settings.currency,
        lines=tuple(draft.lines),
    )
    document = signer.sign(build_batch_offer(offer))
    settlement = Settlement(
        uri=offer.id,
        peer_id=peer.id or 0,
        direction=Direction.outgoing.value,
        period=offer.period,
        sequence=offer.sequence,
        currency=offer.currency,
        total=offer.total.value,
        document=dumps(document),
        digest=batch_digest(document),
    )
    session.add(settlement)
    await session.flush()
    sid, offered = settlement.id or 0, LineState.offered.value
    rows = [
        (sid, i, line.creator, None, None, line.amount.value, line.supporters, offered, "")
        for i, line in enumerate(offer.lines)
    ]
    await insert_rows(session, "settlement_line", LINE_COLUMNS, rows, LINE_PG_TYPES)
    table = EscrowLine.__table__  # type: ignore[attr-defined]
    for start in range(0, len(draft.escrow_ids), CHUNK):
        await session.exec(
            update(table)
            .where(table.c.id.in_(draft.escrow_ids[start : start + CHUNK]))
            .where(moving(table.c.state, EscrowState.held, to=EscrowState.offered))
            .values(state=EscrowState.offered.value, settlement_id=sid)
        )
    await queue_send(session, peer, document)
    return settlement


async def _rehoming_accounts(
    db: Database, settings: Settings, domain: str, refused: set[str]
) -> None:
    """The identity escrow accounts the rehoming of these creators' lines needs, created in
    a transaction of their own before the preparation locks any line: created inside it,
    the insert could wait for a claim's uncommitted insert of the same account while that
    claim waits for a line the preparation holds."""
    async with db.transaction() as session:
        identities: set[int] = set()
        for part in chunks(sorted(refused)):
            rows = await session.exec(
                select(EscrowLine.identity_id)
                .where(EscrowLine.peer_domain == domain, EscrowLine.state == EscrowState.held)
                .where(col(EscrowLine.creator_uri).in_(part))
                .distinct()
            )
            identities.update(rows.all())
        owners = [Owner(LedgerKind.escrow_peer, peer_domain=domain)]
        owners += [Owner(LedgerKind.escrow_identity, identity_id=i) for i in sorted(identities)]
        await ledger_account_ids(session, settings, owners)


async def prepare_batches(
    db: Database, settings: Settings, remote: RemoteActors, peer_id: int | None = None
) -> list[Settlement]:
    """Offer every active peer what is held for its payable creators; returns the batches."""
    async with db.session() as session:
        query = select(Peer).where(Peer.state == PeerState.active)
        if peer_id is not None:
            query = query.where(Peer.id == peer_id)
        peers = (await session.exec(query.order_by(col(Peer.domain)))).all()
    made: list[Settlement] = []
    for peer in peers:
        creators = await _held_creators(db, peer.domain)
        if not creators:
            continue
        payable, refused = await payable_creators(db, remote, creators)
        if refused:
            await _rehoming_accounts(db, settings, peer.domain, refused)
        async with db.transaction() as session:
            locked = await session.get(Peer, peer.id, with_for_update=True)
            if locked is None or locked.state != PeerState.active:
                continue
            # Every held line of the peer is locked in id order before anything is posted,
            # as a claim locks its lines before its accounts: neither then holds an account
            # while waiting for a line the other holds (a deadlock on PostgreSQL). A line
            # claimed meanwhile is no longer held.
            await session.exec(
                select(EscrowLine.id)
                .where(EscrowLine.peer_domain == peer.domain, EscrowLine.state == EscrowState.held)
                .order_by(col(EscrowLine.id))
                .with_for_update()
            )
            if refused:
                stray = await session.exec(
                    select(EscrowLine)
                    .where(
                        EscrowLine.peer_domain == peer.domain,
                        EscrowLine.state == EscrowState.held,
                        col(EscrowLine.creator_uri).in_(sorted(refused)),
                    )
                    .order_by(col(EscrowLine.id))
                )
                await rehome_to_identity(
                    session, settings, peer.domain, stray.all(), TransferKind.not_payable
                )
            signer = await local_signer(session, settings)
            for draft in await _drafts(session, settings, locked, payable):
                made.append(await _offer(session, settings, signer, locked, draft))
    return made


async def apply_batch_answer(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    answer: BatchReceipt | BatchRejection,
    data: dict[str, object],
) -> None:
    """The peer's receipt (or refusal) of one of our batches; a repeat changes nothing."""
    settlement = (
        await session.exec(
            select(Settlement)
            .where(Settlement.uri == answer.offer_id, Settlement.peer_id == peer.id)
            .where(Settlement.direction == Direction.outgoing)
            .with_for_update()
        )
    ).first()
    if settlement is None:
        raise SettlementRefused(
            Kind.not_found, "unknown_batch", "this answers no batch we sent you"
        )
    if settlement.state != SettlementState.offered:
        return
    settlement.answer, settlement.answered_at = dumps(data), utcnow()
    escrow_table = EscrowLine.__table__  # type: ignore[attr-defined]
    if isinstance(answer, BatchRejection):
        await session.exec(
            update(escrow_table)
            .where(escrow_table.c.settlement_id == settlement.id)
            .where(moving(escrow_table.c.state, EscrowState.offered, to=EscrowState.held))
            .values(state=EscrowState.held.value, settlement_id=None)
        )
        advance(settlement, SettlementState.refused)
        settlement.last_error = f"{answer.reason.value}: {answer.summary or ''}".strip(": ")
        session.add(settlement)
        return
    try:
        check_receipt(parse_batch_offer(loads(settlement.document)), settlement.digest, answer)
    except ActivityPubError as error:
        raise SettlementRefused(
            Kind.invalid, "malformed", f"receipt does not match: {error}"
        ) from error
    await _book_receipt(session, settings, peer, settlement, answer)


async def _book_receipt(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    settlement: Settlement,
    receipt: BatchReceipt,
) -> None:
    """Lines are updated in bulk; only rejected lines (few) are touched one by one."""
    rejected = {line.creator: line.rejection for line in receipt.lines if line.rejection}
    lines_table = SettlementLineRow.__table__  # type: ignore[attr-defined]
    await session.exec(
        update(lines_table)
        .where(lines_table.c.settlement_id == settlement.id)
        .where(moving(lines_table.c.state, LineState.offered, to=LineState.accepted))
        .values(state=LineState.accepted.value)
    )
    escrow_table = EscrowLine.__table__  # type: ignore[attr-defined]
    if rejected:
        rows = await session.exec(
            select(SettlementLineRow).where(
                SettlementLineRow.settlement_id == settlement.id,
                col(SettlementLineRow.creator_uri).in_(sorted(rejected)),
            )
        )
        for row in rows.all():
            reason = rejected[row.creator_uri]
            advance(row, LineState.rejected)
            row.reason = reason.value if reason else ""
            session.add(row)
        escrow = (
            await session.exec(
                select(EscrowLine)
                .where(EscrowLine.settlement_id == settlement.id)
                .where(col(EscrowLine.creator_uri).in_(sorted(rejected)))
                .order_by(col(EscrowLine.id))
            )
        ).all()
        limit = LineRejection.CREDIT_LIMIT_EXCEEDED
        waiting = [line for line in escrow if rejected[line.creator_uri] is limit]
        returned = [line for line in escrow if rejected[line.creator_uri] is not limit]
        for line in waiting:
            advance(line, EscrowState.held)
            line.settlement_id = None
            session.add(line)
        if returned:
            await rehome_to_identity(
                session, settings, peer.domain, returned, TransferKind.settlement_rejected
            )
        await session.flush()
    await session.exec(
        update(escrow_table)
        .where(escrow_table.c.settlement_id == settlement.id)
        .where(moving(escrow_table.c.state, EscrowState.offered, to=EscrowState.settled))
        .values(state=EscrowState.settled.value, resolved_at=utcnow())
    )
    accepted = receipt.accepted_total.value
    settlement.accepted_total, settlement.rejected_total = accepted, receipt.rejected_total.value
    advance(settlement, SettlementState.accepted)
    session.add(settlement)
    if accepted:
        source = Owner(LedgerKind.escrow_peer, peer_domain=peer.domain)
        target = Owner(LedgerKind.peer_payable, peer_domain=peer.domain)
        ids = await ledger_account_ids(session, settings, [source, target])
        spec = TransferSpec(
            f"settle:out:{settlement.id}",
            ids[source],
            ids[target],
            accepted,
            TransferKind.settlement_accepted,
            settlement.period,
        )
        await post_transfer(session, spec)
