"""Telling peers what our creators claimed: after a claim is verified here (links both ways,
the instance's own actors, or a bridge's OAuth or proof code), the instance actor sends
each active peer one signed announcement per claimed identity (activitypub/claims.py),
so that what waits there for the identity comes here by settlement. The peer's answer
(accepted, contested, refused) is kept with the claim, for our admin to see.

An announcement is stored and queued in the caller's transaction; one already sent to a
peer with the same method is not sent again (its id is stable, so a repeat would change
nothing there either)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.claims import (
    FEDIVERSE,
    ClaimAnnouncement,
    ClaimMethod,
    IdentityClaim,
    announcement_id,
    build_announcement,
    parse_claim_document,
)
from activitypub.errors import ActivityPubError, SettlementError
from activitypub.origin import same_origin
from server.db.engine import Database
from server.escrow.escrow import WEB_NETWORK
from server.escrow.peer_claims import apply_claim_answer, claim_row, queue_claim_document
from server.jobs.handler import GiveUp, JobContext
from server.jobs.queue import ClaimedJob
from server.models import Actor, Direction, Identity, Peer, PeerClaim, PeerClaimState, PeerState
from server.models.base import utcnow
from server.settings import Settings
from server.settlement.documents import (
    LocalSigner,
    SettlementRefused,
    check_proof,
    dumps,
    local_signer,
    send_document,
)
from server.states import advance

log = logging.getLogger("likewise.claims")


async def announce_claims(
    session: AsyncSession,
    settings: Settings,
    account_id: int,
    methods: Mapping[int, ClaimMethod] | None = None,
) -> int:
    """Announce to every active peer the identities the account has claimed; returns how
    many announcements were queued. `methods` says how a bridge verified an identity (by
    identity id); fediverse identities are `home-instance` (ours) or `rel-me`. An identity
    of another network with no method given, nor one announced before, is not announced."""
    actor = (await session.exec(select(Actor).where(Actor.account_id == account_id))).first()
    peers = (
        await session.exec(
            select(Peer)
            .where(Peer.state == PeerState.active, Peer.actor_uri != "")
            .order_by(col(Peer.domain))
        )
    ).all()
    if actor is None or not peers:
        return 0
    identities = (
        await session.exec(
            select(Identity)
            .where(Identity.claimed_account_id == account_id, Identity.network != WEB_NETWORK)
            .order_by(col(Identity.id))
        )
    ).all()
    signer = await local_signer(session, settings)
    queued = 0
    for identity in identities:
        method = await _method(session, settings, identity, actor, methods or {})
        if method is None:
            continue
        try:
            claim = IdentityClaim(
                actor.uri, identity.network, identity.external_id, identity.handle, method
            )
        except SettlementError as error:
            log.warning("claim of identity %s not announced: %s", identity.id, error)
            continue
        for peer in peers:
            queued += await _announce(session, settings, signer, peer, identity, claim)
    return queued


async def _method(
    session: AsyncSession,
    settings: Settings,
    identity: Identity,
    actor: Actor,
    methods: Mapping[int, ClaimMethod],
) -> ClaimMethod | None:
    """How the identity was verified: one of our own actors is ours (home instance); else
    what the caller says (a bridge's sign-in or proof), else what we said before, else, for
    a fediverse account elsewhere, links both ways (the only other way one is claimed)."""
    if identity.network == FEDIVERSE and same_origin(identity.external_id, settings.base_url):
        return ClaimMethod.HOME_INSTANCE
    given = methods.get(int(identity.id or 0))
    if given is not None:
        return given
    before = await session.exec(
        select(PeerClaim.method).where(
            PeerClaim.direction == Direction.outgoing.value,
            PeerClaim.identity_id == identity.id,
            PeerClaim.actor_uri == actor.uri,
        )
    )
    known = before.first()
    if known in {m.value for m in ClaimMethod}:
        return ClaimMethod(known)
    return ClaimMethod.REL_ME if identity.network == FEDIVERSE else None


async def _announce(
    session: AsyncSession,
    settings: Settings,
    signer: LocalSigner,
    peer: Peer,
    identity: Identity,
    claim: IdentityClaim,
) -> int:
    row = (
        await session.exec(
            select(PeerClaim).where(
                PeerClaim.direction == Direction.outgoing.value,
                PeerClaim.peer_domain == peer.domain,
                PeerClaim.identity_id == identity.id,
                PeerClaim.actor_uri == claim.claimant,
            )
        )
    ).first()
    if row is not None and row.method == claim.method.value:
        return 0
    announcement = ClaimAnnouncement(
        id=announcement_id(settings.base_url, claim, peer.actor_uri),
        actor=signer.uri,
        recipient=peer.actor_uri,
        published=utcnow(),
        claim=claim,
    )
    document = signer.sign(build_announcement(announcement))
    if row is None:
        row = claim_row(
            Direction.outgoing,
            identity,
            peer.domain,
            claim,
            announcement.id,
            PeerClaimState.announced,
        )
    row.method, row.document = claim.method.value, dumps(document)
    advance(row, PeerClaimState.announced)
    row.answer, row.summary, row.updated_at = "", "", utcnow()
    session.add(row)
    await queue_claim_document(session, peer, document)
    return 1


async def announce_all_claims(db: Database, settings: Settings) -> int:
    """Announce every local account's claims to active peers that have not heard them (a
    new peering); returns how many announcements were queued."""
    async with db.transaction() as session:
        accounts = await session.exec(
            select(Identity.claimed_account_id)
            .where(col(Identity.claimed_account_id).is_not(None))
            .distinct()
        )
        queued = 0
        for account_id in sorted(a for a in accounts.all() if a is not None):
            queued += await announce_claims(session, settings, account_id)
        return queued


async def _apply(context: JobContext, peer: Peer, data: dict[str, object]) -> None:
    """The answer that came back in the response to one of our announcements."""
    try:
        document = parse_claim_document(data)
        async with context.db.transaction() as session:
            locked = await session.get(Peer, peer.id, with_for_update=True)
            if locked is None:
                raise GiveUp("the peer is gone")
            check_proof(data, locked)
            if document.actor != locked.actor_uri or isinstance(document, ClaimAnnouncement):
                raise GiveUp("the answer is not the peer's answer to a claim")
            await apply_claim_answer(session, locked, document, data)
    except (ActivityPubError, SettlementRefused) as error:
        raise GiveUp(f"the peer's answer was refused: {error}") from error


async def handle_claims_send(context: JobContext, job: ClaimedJob) -> None:
    """Job `claims.send`: POST one signed claim document to a peer's instance inbox."""
    await send_document(context, job, _apply)
