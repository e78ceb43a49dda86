"""Settlement between instances: one entry for what peers send, the jobs that send ours,
and the checks and views admins use. The parts live in `peering`, `outgoing`,
`incoming` and `payments`; the shared plumbing in `documents`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.claims import is_claim_document
from activitypub.errors import ActivityPubError
from activitypub.settlement import (
    SETTLEMENT_CONTEXT,
    BatchOffer,
    BatchReceipt,
    BatchRejection,
    PaymentConfirmation,
    PaymentNotice,
    PaymentRefusal,
    PeeringAcceptance,
    PeeringProposal,
    PeeringRejection,
    SettlementDocument,
    batch_digest,
    check_receipt,
    parse_batch_offer,
    parse_receipt,
    parse_settlement_document,
    verify_document,
)
from server.accounts.actors import instance_actor
from server.db.engine import Database
from server.domain_errors import Kind, NotFound
from server.escrow.announcements import announce_all_claims
from server.escrow.notices import queue_notices
from server.escrow.peer_claims import hold_for_claimants, receive_claim
from server.federation.remote import RemoteActors, RemoteError, build_client
from server.jobs.handler import GiveUp, JobContext, RetryLater
from server.jobs.queue import ClaimedJob
from server.models import (
    Direction,
    Peer,
    Settlement,
    SettlementPayment,
    SettlementState,
)
from server.models.base import utcnow
from server.settings import Settings
from server.settlement.documents import (
    Receipt,
    SettlementRefused,
    check_proof,
    check_units,
    loads,
    parse_document,
    peer_of_actor,
    send_document,
)
from server.settlement.incoming import receive_batch
from server.settlement.outgoing import apply_batch_answer, prepare_batches
from server.settlement.payments import apply_payment_answer, receive_notice
from server.settlement.peering import actor_profile, apply_peering_answer, receive_proposal
from server.settlement.waiting_notice import tell_waiting_instances


def is_settlement_document(data: object) -> bool:
    """Whether an inbox body is meant for settlement (by its exact context)."""
    return isinstance(data, dict) and data.get("@context") == SETTLEMENT_CONTEXT


async def receive(
    db: Database, settings: Settings, remote: RemoteActors, signer: str, data: dict[str, object]
) -> Receipt:
    """A settlement document POSTed to our instance inbox by `signer` (HTTP-signed), or a
    claim document (a peer's claim of an identity, server/escrow/peer_claims.py)."""
    if is_claim_document(data):
        return await receive_claim(db, settings, signer, data)
    document = parse_document(data)
    if document.actor != signer:
        raise SettlementRefused(
            Kind.unauthorized,
            "wrong_signer",
            f"the request is signed by {signer}, the document is from {document.actor}",
        )
    profile = None
    if isinstance(document, PeeringProposal):  # fetched before the transaction
        profile = await actor_profile(remote, document.actor, document.currency)
    async with db.transaction() as session:
        ours = await instance_actor(session, settings)
        if ours is None or document.recipient != ours.uri:
            raise SettlementRefused(
                Kind.invalid, "wrong_recipient", "the document is for another actor"
            )
        if isinstance(document, PeeringProposal) and profile is not None:
            return await receive_proposal(session, settings, profile, document, data)
        peer = await peer_of_actor(session, document.actor)
        if isinstance(document, BatchOffer):
            return await receive_batch(session, settings, peer, document, data)
        if peer is None:
            raise SettlementRefused(Kind.forbidden, "not_a_peer", f"{document.actor} is not a peer")
        check_proof(data, peer)
        if isinstance(document, PaymentNotice):
            return await receive_notice(session, settings, peer, document, data)
        await _apply(session, settings, peer, document, data)
        return Receipt()


async def _apply(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    document: SettlementDocument,
    data: dict[str, object],
) -> None:
    check_units(document, settings)
    if isinstance(document, BatchReceipt | BatchRejection):
        await apply_batch_answer(session, settings, peer, document, data)
    elif isinstance(document, PeeringAcceptance | PeeringRejection):
        await apply_peering_answer(session, peer, document, data)
    elif isinstance(document, PaymentConfirmation | PaymentRefusal):
        await apply_payment_answer(session, settings, peer, document, data)
    else:
        raise SettlementRefused(Kind.invalid, "unexpected", "this document is not an answer")


async def apply_answer(context: JobContext, peer: Peer, data: dict[str, object]) -> None:
    """An answer that came back in the response to one of our documents."""
    try:
        document = parse_settlement_document(data)
        async with context.db.transaction() as session:
            locked = await session.get(Peer, peer.id, with_for_update=True)
            if locked is None:
                raise GiveUp("the peer is gone")
            check_proof(data, locked)
            await _apply(session, context.settings, locked, document, data)
    except (ActivityPubError, SettlementRefused) as error:
        raise GiveUp(f"the peer's answer was refused: {error}") from error


async def handle_send(context: JobContext, job: ClaimedJob) -> None:
    await send_document(context, job, apply_answer)


def _remote(context: JobContext) -> RemoteActors:
    return RemoteActors(context.db, context.settings, build_client(context.settings, context.http))


async def handle_prepare(context: JobContext, job: ClaimedJob) -> None:
    """Offer active peers what is held for their creators (after a close or a peering)."""
    peer_id = job.payload.get("peer_id")
    remote = _remote(context)
    # Claims peers announced take what reached their identities since; new peers hear ours.
    await hold_for_claimants(context.db, context.settings)
    await announce_all_claims(context.db, context.settings)
    try:
        await prepare_batches(
            context.db, context.settings, remote, int(peer_id) if peer_id else None
        )
    except RemoteError as error:
        raise RetryLater(f"a peer could not be asked about its creators: {error}") from error
    await tell_waiting_instances(context.db, context.settings, remote, remote.client)
    # Creators whose shares still wait (here or in identity escrow) are told after that.
    async with context.db.transaction() as session:
        await queue_notices(session, f"prepare:{job.id}")


# --- checks and views ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    settlement: Settlement
    checks: list[tuple[str, bool, str]]

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


async def verify_settlement(db: Database, settings: Settings, settlement_id: int) -> Verification:
    """Re-check a stored batch and its answer: both proofs, the digest, the receipt's lines."""
    async with db.session() as session:
        settlement = await session.get(Settlement, settlement_id)
        if settlement is None:
            raise NotFound(f"no settlement {settlement_id}")
        peer = await session.get(Peer, settlement.peer_id)
        ours = await instance_actor(session, settings)
    if peer is None or ours is None:
        raise NotFound("the peer or the instance actor is gone")
    keys = {peer.actor_uri: peer.ed25519_multibase, ours.uri: ours.ed25519_public_multibase}
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, work: Callable[[], object]) -> None:
        try:
            work()
            checks.append((name, True, ""))
        except (ActivityPubError, ValueError, KeyError) as error:
            checks.append((name, False, str(error)))

    batch = loads(settlement.document)
    sender = str(batch.get("actor", ""))
    check("batch proof", lambda: verify_document(batch, keys[sender], sender))
    check("batch digest", lambda: _same(batch_digest(batch), settlement.digest))
    if settlement.answer:
        answer = loads(settlement.answer)
        responder = str(answer.get("actor", ""))
        check("answer proof", lambda: verify_document(answer, keys[responder], responder))
        if answer.get("type") == "Accept":
            check(
                "receipt matches batch",
                lambda: check_receipt(
                    parse_batch_offer(batch), settlement.digest, parse_receipt(answer)
                ),
            )
    return Verification(settlement, checks)


def _same(computed: str, stored: str) -> None:
    if computed != stored:
        raise ValueError(f"digest {computed} differs from the stored {stored}")


def overdue(settings: Settings, settlement: Settlement, now: datetime | None = None) -> bool:
    """A batch we sent that no receipt answered in time (flagged to the admin)."""
    if settlement.direction != Direction.outgoing or settlement.state != SettlementState.offered:
        return False
    limit = timedelta(hours=settings.receipt_hours)
    created = settlement.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (now or utcnow()) - created > limit


async def list_settlements(
    db: Database, peer_domain: str | None = None, limit: int = 200
) -> list[tuple[Settlement, Peer]]:
    async with db.session() as session:
        query = select(Settlement, Peer).join(Peer, col(Peer.id) == col(Settlement.peer_id))
        if peer_domain:
            query = query.where(Peer.domain == peer_domain)
        rows = await session.exec(query.order_by(col(Settlement.id).desc()).limit(limit))
        return [(s, p) for s, p in rows.all()]


async def list_payments(
    db: Database, peer_domain: str | None = None
) -> list[tuple[SettlementPayment, Peer]]:
    async with db.session() as session:
        query = select(SettlementPayment, Peer).join(
            Peer, col(Peer.id) == col(SettlementPayment.peer_id)
        )
        if peer_domain:
            query = query.where(Peer.domain == peer_domain)
        rows = await session.exec(query.order_by(col(SettlementPayment.id).desc()))
        return [(p, peer) for p, peer in rows.all()]
