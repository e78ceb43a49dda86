"""Claims a peer announces for its creators (activitypub/claims.py): recorded against the
peer's actor, and what waits here for the identity moves to that peer's escrow, where the
next settlement batch offers it to the claimant (server/settlement/outgoing.py).

Rules: only an active peer's instance actor is heard, and only for actors on its own
origin (`check_claim_origin`). The first claim holds. A claim of an identity that a local
account or another actor already claims is contested: it moves nothing, and a claim that
held before is contested with it (its held money goes back where it waited) until an
admin decides (`decide_claim`). A replay of an announcement changes nothing.

Money moves as `escrow_claim` transfers between escrow accounts, keyed by the claim row
and its `moves` count, so a move is never posted twice and one after a contest is new."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.claims import (
    ClaimAnnouncement,
    ClaimAnswer,
    ClaimStatus,
    IdentityClaim,
    build_answer,
    check_claim_origin,
    parse_claim_document,
)
from activitypub.errors import SettlementError
from activitypub.settlement import envelope_fields
from server.accounts.actors import instance_actor
from server.db.engine import Database
from server.domain_errors import Conflict, Kind, NotFound
from server.donations.clicks import CreatorRef, ensure_identity
from server.donations.close import unclaimed_destination
from server.escrow.escrow import held_lines
from server.jobs.queue import enqueue
from server.models import (
    Direction,
    EscrowLine,
    Identity,
    LedgerKind,
    Peer,
    PeerClaim,
    PeerClaimState,
    PeerState,
    TransferKind,
)
from server.models.base import utcnow
from server.models.payouts import EscrowState
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from server.settings import Settings
from server.settlement.documents import (
    LocalSigner,
    Receipt,
    SettlementRefused,
    check_proof,
    dumps,
    loads,
    local_signer,
    peer_of_actor,
)
from server.states import advance

log = logging.getLogger("likewise.claims")
CLAIMS_SEND_JOB = "claims.send"
HOLDING = (PeerClaimState.accepted, PeerClaimState.contested)


async def receive_claim(
    db: Database, settings: Settings, signer: str, data: dict[str, object]
) -> Receipt:
    """A claim document POSTed to our instance inbox by `signer` (HTTP-signed): an
    announcement, answered at once, or a peer's answer to one of ours."""
    try:
        document = parse_claim_document(data)
    except SettlementError as error:
        raise SettlementRefused(
            Kind.bad_request, "malformed", f"not a valid claim document: {error}"
        ) from error
    if document.actor != signer:
        raise SettlementRefused(
            Kind.unauthorized,
            "wrong_signer",
            f"the request is signed by {signer}, the document is from {document.actor}",
        )
    async with db.transaction() as session:
        ours = await instance_actor(session, settings)
        if ours is None or document.recipient != ours.uri:
            raise SettlementRefused(
                Kind.invalid, "wrong_recipient", "the document is for another actor"
            )
        peer = await peer_of_actor(session, document.actor)
        if peer is None or peer.state != PeerState.active:
            log.warning("claim from %s refused: not an active peer", document.actor)
            raise SettlementRefused(
                Kind.forbidden,
                "not_a_peer",
                f"{document.actor} is not an active peer of this instance: its claims are "
                "not taken",
            )
        check_proof(data, peer)
        if isinstance(document, ClaimAnswer):
            await apply_claim_answer(session, peer, document, data)
            return Receipt()
        return await _take(session, settings, peer, document, data)


async def apply_claim_answer(
    session: AsyncSession, peer: Peer, answer: ClaimAnswer, data: dict[str, object]
) -> None:
    """A peer's answer to one of our announcements (proof checked by the caller)."""
    row = (
        await session.exec(
            select(PeerClaim).where(
                PeerClaim.direction == Direction.outgoing.value,
                PeerClaim.peer_domain == peer.domain,
                PeerClaim.announcement_id == answer.announcement_id,
            )
        )
    ).first()
    if row is None:
        raise SettlementRefused(Kind.not_found, "unknown_claim", "this answers no claim of ours")
    if row.state == PeerClaimState.withdrawn:
        return
    advance(row, PeerClaimState(answer.status.value))
    row.summary, row.answer, row.updated_at = answer.summary[:500], dumps(data), utcnow()
    session.add(row)


def claim_row(
    direction: Direction,
    identity: Identity,
    peer_domain: str,
    claim: IdentityClaim,
    announcement_id: str,
    state: PeerClaimState,
) -> PeerClaim:
    """A new claim row: one a peer announced to us (incoming) or we to a peer (outgoing)."""
    return PeerClaim(
        direction=direction.value,
        identity_id=int(identity.id or 0),
        peer_domain=peer_domain,
        actor_uri=claim.claimant,
        method=claim.method.value,
        announcement_id=announcement_id,
        state=state,
    )


async def _take(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    announcement: ClaimAnnouncement,
    data: dict[str, object],
) -> Receipt:
    signer = await local_signer(session, settings)
    try:
        check_claim_origin(announcement)
    except SettlementError as error:
        log.warning("claim from %s refused: %s", announcement.actor, error)
        answer = _answer(settings, signer, announcement, ClaimStatus.REFUSED, str(error))
        return Receipt(answer=answer, refused=True)
    claim = announcement.claim
    creator = CreatorRef(claim.network, claim.external_id, claim.handle)
    found = await ensure_identity(session, creator)
    identity = await _locked(session, int(found.id or 0))
    row = await _row(session, Direction.incoming, peer.domain, identity, claim.claimant)
    if announcement.withdrawn:
        if row is not None and row.state != PeerClaimState.withdrawn:
            await _let_go(session, settings, identity, row, PeerClaimState.withdrawn)
        return Receipt()
    if row is not None and row.state != PeerClaimState.withdrawn and row.answer:
        return Receipt(answer=loads(row.answer))  # a replay: the same answer, nothing moves
    if row is None:
        row = claim_row(
            Direction.incoming,
            identity,
            peer.domain,
            claim,
            announcement.id,
            PeerClaimState.contested,
        )
    row.document, row.method, row.announcement_id = dumps(data), claim.method.value, announcement.id
    rivals = await _rivals(session, identity, row)
    if identity.claimed_account_id is not None or rivals:
        summary = _contest(identity, rivals)
        for rival in rivals:
            if rival.state == PeerClaimState.accepted:
                await _let_go(session, settings, identity, rival, PeerClaimState.contested)
                await _tell(session, settings, signer, rival, ClaimStatus.CONTESTED, summary)
        status = ClaimStatus.CONTESTED
    else:
        summary, status = "", ClaimStatus.ACCEPTED
    advance(row, PeerClaimState(status.value))
    row.summary, row.updated_at = summary, utcnow()
    session.add(row)
    await session.flush()
    if status is ClaimStatus.ACCEPTED:
        await _hold_for(session, settings, identity, row)
    answer = _answer(settings, signer, announcement, status, summary)
    row.answer = dumps(answer)
    session.add(row)
    return Receipt(answer=answer)


def _contest(identity: Identity, rivals: Sequence[PeerClaim]) -> str:
    if identity.claimed_account_id is not None:
        return "an account of this instance claims this identity too; an admin decides"
    others = ", ".join(sorted({rival.peer_domain for rival in rivals}))
    return f"claimed here through {others} too; an admin decides"


async def _locked(session: AsyncSession, identity_id: int) -> Identity:
    identity = await session.get(
        Identity, identity_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if identity is None:
        raise NotFound("no such identity")
    return identity


async def _row(
    session: AsyncSession, direction: Direction, domain: str, identity: Identity, actor: str
) -> PeerClaim | None:
    found = await session.exec(
        select(PeerClaim).where(
            PeerClaim.direction == direction.value,
            PeerClaim.peer_domain == domain,
            PeerClaim.identity_id == identity.id,
            PeerClaim.actor_uri == actor,
        )
    )
    return found.first()


async def _rivals(session: AsyncSession, identity: Identity, row: PeerClaim) -> list[PeerClaim]:
    """Other peers' claims of the identity that still hold or wait for an admin."""
    found = await session.exec(
        select(PeerClaim)
        .where(
            PeerClaim.direction == Direction.incoming.value,
            PeerClaim.identity_id == identity.id,
            col(PeerClaim.state).in_([state.value for state in HOLDING]),
        )
        .order_by(col(PeerClaim.id))
    )
    return [rival for rival in found.all() if rival.id is None or rival.id != row.id]


def _answer(
    settings: Settings,
    signer: LocalSigner,
    announcement: ClaimAnnouncement,
    status: ClaimStatus,
    summary: str,
) -> dict[str, object]:
    answer = ClaimAnswer(
        **envelope_fields(signer.envelope(settings, announcement.actor)),
        announcement_id=announcement.id,
        status=status,
        summary=summary[:500],
    )
    return signer.sign(build_answer(answer))


async def _tell(
    session: AsyncSession,
    settings: Settings,
    signer: LocalSigner,
    row: PeerClaim,
    status: ClaimStatus,
    summary: str,
) -> None:
    """Send the peer of an incoming claim our (new) answer to it, signed, as a job."""
    peer = (await session.exec(select(Peer).where(Peer.domain == row.peer_domain))).first()
    if peer is None or not peer.actor_uri:
        return
    answer = ClaimAnswer(
        **envelope_fields(signer.envelope(settings, peer.actor_uri)),
        announcement_id=row.announcement_id,
        status=status,
        summary=summary[:500],
    )
    document = signer.sign(build_answer(answer))
    row.answer = dumps(document)
    session.add(row)
    await queue_claim_document(session, peer, document)


async def queue_claim_document(
    session: AsyncSession, peer: Peer, document: dict[str, object]
) -> None:
    """Deliver a signed claim document to the peer's instance inbox (job `claims.send`)."""
    await enqueue(session, CLAIMS_SEND_JOB, {"peer_id": peer.id, "body": dumps(document)})


# --- money --------------------------------------------------------------------------------


async def _hold_for(
    session: AsyncSession, settings: Settings, identity: Identity, row: PeerClaim
) -> int:
    """The claim holds: the identity is the peer actor's, and its held lines move to the
    peer's escrow for that actor (the next batch offers them); returns the amount moved."""
    identity.claimed_by_actor_uri = row.actor_uri
    identity.claimed_at = identity.claimed_at or utcnow()
    session.add(identity)
    escrow_owner = Owner(LedgerKind.escrow_identity, identity_id=identity.id)
    target_owner = Owner(LedgerKind.escrow_peer, peer_domain=row.peer_domain)
    ids = await ledger_account_ids(session, settings, [escrow_owner, target_owner])
    lines = (
        await session.exec(
            select(EscrowLine)
            .where(held_lines(identity, ids[escrow_owner]))
            .order_by(col(EscrowLine.id))
            .with_for_update()
        )
    ).all()
    return await _move(session, row, lines, ids[target_owner], row.peer_domain, row.actor_uri)


async def _let_go(
    session: AsyncSession,
    settings: Settings,
    identity: Identity,
    row: PeerClaim,
    state: PeerClaimState,
) -> int:
    """The claim no longer holds (`state`): lines held for its actor go back to where the
    close would put them for nobody's identity; offered ones finish their batch."""
    advance(row, state)
    row.updated_at = utcnow()
    session.add(row)
    if identity.claimed_by_actor_uri != row.actor_uri:
        return 0
    identity.claimed_by_actor_uri = ""
    if identity.claimed_account_id is None:
        identity.claimed_at = None
    session.add(identity)
    home = unclaimed_destination(
        settings, int(identity.id or 0), identity.network, identity.external_id
    )
    ids = await ledger_account_ids(session, settings, [home.owner])
    lines = (
        await session.exec(
            select(EscrowLine)
            .where(
                EscrowLine.identity_id == identity.id,
                EscrowLine.peer_domain == row.peer_domain,
                EscrowLine.creator_uri == row.actor_uri,
                EscrowLine.state == EscrowState.held,
            )
            .order_by(col(EscrowLine.id))
            .with_for_update()
        )
    ).all()
    target = ids[home.owner]
    return await _move(session, row, lines, target, home.owner.peer_domain, home.creator_uri)


async def _move(
    session: AsyncSession,
    row: PeerClaim,
    lines: Sequence[EscrowLine],
    target: int,
    peer_domain: str,
    creator_uri: str,
) -> int:
    """Held lines to the escrow account `target`, one transfer per source account."""
    by_source: dict[int, list[EscrowLine]] = defaultdict(list)
    for line in lines:
        if line.ledger_account_id != target:
            by_source[line.ledger_account_id].append(line)
    row.moves += 1
    moved = 0
    for source, group in sorted(by_source.items()):
        amount = sum(line.amount for line in group)
        key = f"peer-claim:{row.id}:{row.moves}:{source}"
        reference = f"identity:{row.identity_id}"
        spec = TransferSpec(
            key, source, target, amount, TransferKind.escrow_claim, reference=reference
        )
        await post_transfer(session, spec)
        moved += amount
    for line in lines:
        line.ledger_account_id, line.peer_domain, line.creator_uri = (
            target,
            peer_domain,
            creator_uri,
        )
        session.add(line)
    session.add(row)
    return moved


async def hold_for_claimants(db: Database, settings: Settings) -> int:
    """Lines that reached an accepted claim's identity escrow after the claim (a close
    before the claim's identity was known to route to the peer) move to the peer; run
    before each batch is prepared. Returns the amount moved."""
    async with db.transaction() as session:
        rows = (
            await session.exec(
                select(PeerClaim)
                .where(
                    PeerClaim.direction == Direction.incoming.value,
                    PeerClaim.state == PeerClaimState.accepted,
                )
                .order_by(col(PeerClaim.identity_id))
            )
        ).all()
        moved = 0
        for row in rows:
            identity = await _locked(session, row.identity_id)
            if identity.claimed_by_actor_uri == row.actor_uri:
                moved += await _hold_for(session, settings, identity, row)
        return moved


# --- admins -------------------------------------------------------------------------------


async def decide_claim(
    db: Database, settings: Settings, claim_id: int, *, accept: bool
) -> PeerClaim:
    """An admin decides a peer's claim: accepted, it holds (every rival claim by a peer is
    refused); refused, it no longer holds. Each peer concerned gets a signed answer."""
    async with db.transaction() as session:
        row = await session.get(PeerClaim, claim_id, with_for_update=True)
        if row is None or row.direction != Direction.incoming.value:
            raise NotFound(f"no claim {claim_id} by a peer")
        identity = await _locked(session, row.identity_id)
        signer = await local_signer(session, settings)
        if not accept:
            await _let_go(session, settings, identity, row, PeerClaimState.refused)
            row.summary = "refused by this instance's admin"
            await _tell(session, settings, signer, row, ClaimStatus.REFUSED, row.summary)
            return row
        if identity.claimed_account_id is not None:
            raise Conflict("an account of this instance claims this identity: it stays its own")
        for rival in await _rivals(session, identity, row):
            await _let_go(session, settings, identity, rival, PeerClaimState.refused)
            rival.summary = f"an admin gave it to the claim through {row.peer_domain}"
            await _tell(session, settings, signer, rival, ClaimStatus.REFUSED, rival.summary)
        advance(row, PeerClaimState.accepted)
        row.summary, row.updated_at = "", utcnow()
        session.add(row)
        await _hold_for(session, settings, identity, row)
        await _tell(session, settings, signer, row, ClaimStatus.ACCEPTED, "")
        return row


async def list_claims(db: Database) -> list[tuple[PeerClaim, Identity]]:
    """Every claim peers announced to us and we to them, contested first."""
    async with db.session() as session:
        rows = await session.exec(
            select(PeerClaim, Identity)
            .join(Identity, col(Identity.id) == col(PeerClaim.identity_id))
            .order_by(col(PeerClaim.id))
        )
        found = [(row, identity) for row, identity in rows.all()]
    return sorted(found, key=lambda pair: pair[0].state != PeerClaimState.contested)
