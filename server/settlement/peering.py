"""Settlement peers: discovery, proposals and their answers, open balances.

Money flows only between instances whose admins agreed. An admin proposes (terms: the
currency, which must be both instances', and a credit limit); the other admin accepts or
rejects, or its instance accepts at once when configured to. Two proposals that cross
are an agreement. A peer is proposed, active, suspended or ended.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.client import ActivityPubClient
from activitypub.errors import ActivityPubError
from activitypub.nodeinfo import parse_nodeinfo, parse_nodeinfo_links
from activitypub.settlement import (
    Amount,
    PeeringAcceptance,
    PeeringProposal,
    PeeringRefusalReason,
    PeeringRejection,
    accept_peering,
    build_peering_acceptance,
    build_peering_proposal,
    build_peering_rejection,
    check_peering_acceptance,
    envelope_fields,
    parse_peering_proposal,
)
from activitypub.vocab import parse_actor
from server.db.engine import Database
from server.domain_errors import Conflict, Kind, NotFound, ValidationFailed
from server.federation.remote import (
    InvalidActor,
    RemoteActors,
    RemoteError,
    checked_actor,
    domain_of,
)
from server.jobs.queue import enqueue
from server.models import (
    EscrowLine,
    LedgerKind,
    PaymentState,
    Peer,
    PeerState,
    SettlementPayment,
)
from server.models.base import utcnow
from server.models.ledger import AMOUNT_CEILING
from server.models.payouts import EscrowState
from server.money.ledger import Owner, balance_of
from server.settings import Settings
from server.settlement.documents import (
    LocalSigner,
    Receipt,
    SettlementRefused,
    check_proof,
    dumps,
    loads,
    local_signer,
    queue_send,
    unit_problem,
)
from server.states import advance

PREPARE_JOB = "settlement.prepare"


@dataclass(frozen=True)
class PeerProfile:
    domain: str
    actor_uri: str
    inbox: str
    ed25519_multibase: str
    currency: str


def normalize_domain(settings: Settings, domain: str) -> str:
    domain = domain.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not domain or "/" in domain or "@" in domain:
        raise ValidationFailed(f"{domain!r} is not an instance domain (host or host:port)")
    if domain == settings.domain:
        raise ValidationFailed("an instance cannot peer with itself")
    return domain


async def actor_profile(remote: RemoteActors, actor_uri: str, currency: str) -> PeerProfile:
    """The instance actor's inbox and FEP-521a Ed25519 key, fetched with a signed GET."""
    try:
        parsed = parse_actor(await remote.fetch_document(actor_uri))
    except ActivityPubError as error:
        raise InvalidActor(f"{actor_uri} is not an actor: {error}") from error
    actor = checked_actor(parsed)  # its inbox and keys on its own origin
    keys = [m for m in actor.assertion_methods if m.controller == actor.id]
    if not keys:
        # The sender's own actor is unusable for settlement: its fault, a 4xx, not a 502.
        raise InvalidActor(f"{actor_uri} publishes no Ed25519 assertionMethod key")
    return PeerProfile(
        domain_of(actor.id), actor.id, actor.inbox, keys[0].public_key_multibase, currency
    )


async def discover(
    remote: RemoteActors, client: ActivityPubClient, settings: Settings, domain: str
) -> PeerProfile:
    """Read the instance's NodeInfo: it must settle, and name its settlement actor."""
    base = f"{settings.scheme}://{domain}"
    try:
        href = parse_nodeinfo_links(await client.fetch_json(f"{base}/.well-known/nodeinfo"))
        info = parse_nodeinfo(await client.fetch_json(href))
    except ActivityPubError as error:
        raise ValidationFailed(f"cannot read the NodeInfo of {domain}: {error}") from error
    if not info.settles or info.settlement is None:
        raise ValidationFailed(f"{domain} does not settle microdonations (its NodeInfo says so)")
    actor_uri = info.settlement.actor or f"{base}/actor"
    if domain_of(actor_uri) != domain:
        raise ValidationFailed(f"{domain} names a settlement actor on another host: {actor_uri}")
    try:
        profile = await actor_profile(remote, actor_uri, info.settlement.currency)
    except RemoteError as error:
        raise ValidationFailed(f"{domain}'s settlement actor: {error.message}") from error
    if profile.domain != domain:
        raise ValidationFailed(f"{actor_uri} is served from another host")
    return profile


async def find_peer(session: AsyncSession, domain: str) -> Peer:
    peer = (await session.exec(select(Peer).where(Peer.domain == domain))).first()
    if peer is None:
        raise NotFound(f"{domain} is not a peer of this instance")
    return peer


def _amount(settings: Settings, value: int) -> Amount:
    return Amount(value, settings.currency, settings.currency_scale)


async def propose(
    db: Database, settings: Settings, profile: PeerProfile, credit_limit: int
) -> Peer:
    """Record our proposal to `profile.domain` and queue it."""
    if profile.currency != settings.currency:
        raise ValidationFailed(
            f"{profile.domain} settles in {profile.currency}, this instance in {settings.currency}"
        )
    if not 0 <= credit_limit <= AMOUNT_CEILING:
        raise ValidationFailed(
            f"a credit limit is from 0 to {AMOUNT_CEILING} minor units", field="credit_limit"
        )
    async with db.transaction() as session:
        peer = (await session.exec(select(Peer).where(Peer.domain == profile.domain))).first()
        if peer is not None and peer.state in (PeerState.active, PeerState.suspended):
            raise Conflict(f"{profile.domain} is already a peer ({peer.state})")
        if peer is not None and peer.state == PeerState.proposed and peer.proposed_by == "them":
            raise Conflict(f"{profile.domain} proposed already: accept it with `peers accept`")
        signer = await local_signer(session, settings)
        proposal = PeeringProposal(
            **envelope_fields(signer.envelope(settings, profile.actor_uri)),
            currency=settings.currency,
            credit_limit=_amount(settings, credit_limit),
        )
        document = signer.sign(build_peering_proposal(proposal))
        peer = peer or Peer(domain=profile.domain, currency=settings.currency, credit_limit=0)
        _apply_profile(peer, profile)
        advance(peer, PeerState.proposed)
        peer.proposed_by = "us"
        peer.credit_limit, peer.proposal_uri = credit_limit, proposal.id
        peer.proposal, peer.answer, peer.note = dumps(document), "", ""
        peer.updated_at = utcnow()
        session.add(peer)
        await session.flush()
        await queue_send(session, peer, document)
        return peer


def _apply_profile(peer: Peer, profile: PeerProfile) -> None:
    peer.actor_uri, peer.inbox = profile.actor_uri, profile.inbox
    peer.ed25519_multibase = profile.ed25519_multibase


async def _activate(session: AsyncSession, peer: Peer, answer: dict[str, object]) -> None:
    advance(peer, PeerState.active)
    peer.answer, peer.updated_at = dumps(answer), utcnow()
    session.add(peer)
    await enqueue(session, PREPARE_JOB, {"peer_id": peer.id})


async def _accept(
    session: AsyncSession, settings: Settings, signer: LocalSigner, peer: Peer
) -> dict[str, object]:
    proposal = parse_peering_proposal(loads(peer.proposal))
    acceptance = accept_peering(signer.envelope(settings, peer.actor_uri), proposal)
    document = signer.sign(build_peering_acceptance(acceptance))
    await _activate(session, peer, document)
    return document


async def _reject(
    session: AsyncSession,
    settings: Settings,
    signer: LocalSigner,
    peer: Peer,
    reason: PeeringRefusalReason,
    summary: str | None,
) -> dict[str, object]:
    rejection = PeeringRejection(
        **envelope_fields(signer.envelope(settings, peer.actor_uri)),
        proposal_id=peer.proposal_uri,
        reason=reason,
        summary=summary,
    )
    document = signer.sign(build_peering_rejection(rejection))
    advance(peer, PeerState.ended)
    peer.answer, peer.note = dumps(document), reason.value
    peer.updated_at = utcnow()
    session.add(peer)
    return document


async def answer_proposal(db: Database, settings: Settings, domain: str, *, accept: bool) -> Peer:
    """The admin's answer to a peer's proposal; the answer is signed and queued."""
    async with db.transaction() as session:
        peer = await find_peer(session, domain)
        if peer.state != PeerState.proposed or peer.proposed_by != "them":
            raise Conflict(f"{domain} has no proposal waiting for an answer (state {peer.state})")
        signer = await local_signer(session, settings)
        if accept:
            document = await _accept(session, settings, signer, peer)
        else:
            document = await _reject(
                session,
                settings,
                signer,
                peer,
                PeeringRefusalReason.DECLINED,
                "declined by the admin",
            )
        await queue_send(session, peer, document)
        return peer


async def set_state(db: Database, domain: str, state: PeerState) -> Peer:
    """Suspend, resume or end an agreement locally (batches stop or resume)."""
    async with db.transaction() as session:
        peer = await find_peer(session, domain)
        allowed = {
            PeerState.suspended: {PeerState.active},
            PeerState.active: {PeerState.suspended},
            PeerState.ended: {PeerState.active, PeerState.suspended, PeerState.proposed},
        }
        if peer.state not in allowed[state]:
            raise Conflict(f"{domain} is {peer.state}; it cannot become {state}")
        advance(peer, state)
        peer.updated_at = utcnow()
        session.add(peer)
        if state == PeerState.active:
            await enqueue(session, PREPARE_JOB, {"peer_id": peer.id})
        return peer


async def receive_proposal(
    session: AsyncSession,
    settings: Settings,
    profile: PeerProfile,
    proposal: PeeringProposal,
    data: dict[str, object],
) -> Receipt:
    """A peer's proposal: stored for the admin, or answered at once when configured (or when
    our own proposal to it crossed this one). `profile` is the proposer's instance actor,
    fetched before the transaction."""
    signer = await local_signer(session, settings)
    domain = domain_of(proposal.actor)
    peer = (await session.exec(select(Peer).where(Peer.domain == domain))).first()
    if peer is not None and peer.proposal_uri == proposal.id:
        return Receipt(loads(peer.answer)) if peer.answer else Receipt()
    if peer is not None and peer.state in (PeerState.active, PeerState.suspended):
        raise SettlementRefused(
            Kind.conflict, "conflict", f"{domain} is already a peer ({peer.state})"
        )
    crossed = peer is not None and peer.state == PeerState.proposed and peer.proposed_by == "us"
    peer = peer or Peer(domain=domain, currency=proposal.currency, credit_limit=0)
    _apply_profile(peer, profile)
    check_proof(data, peer)
    problem = unit_problem(proposal, settings)
    advance(peer, PeerState.proposed)
    peer.proposed_by = "them"
    # A limit in another unit or beyond the ceiling is refused below, and not kept.
    peer.currency = proposal.currency
    peer.credit_limit = proposal.credit_limit.value if problem is None else 0
    peer.proposal_uri, peer.proposal, peer.answer = proposal.id, dumps(data), ""
    peer.updated_at = utcnow()
    session.add(peer)
    await session.flush()
    if proposal.currency != settings.currency:
        summary = f"this instance settles in {settings.currency}, not {proposal.currency}"
        reason = PeeringRefusalReason.WRONG_CURRENCY
        rejection = await _reject(session, settings, signer, peer, reason, summary)
        return Receipt(rejection, refused=True)
    if problem is not None:
        reason = (
            PeeringRefusalReason.CREDIT_LIMIT_TOO_HIGH
            if problem.too_large
            else PeeringRefusalReason.WRONG_CURRENCY
        )
        rejection = await _reject(session, settings, signer, peer, reason, problem.message)
        return Receipt(rejection, refused=True)
    if settings.peer_auto_accept or crossed:
        return Receipt(await _accept(session, settings, signer, peer))
    return Receipt()


async def apply_peering_answer(
    session: AsyncSession,
    peer: Peer,
    answer: PeeringAcceptance | PeeringRejection,
    data: dict[str, object],
) -> None:
    """The peer's answer to our proposal (from the response or a later POST)."""
    check_proof(data, peer)
    if peer.proposed_by != "us" or answer.proposal_id != peer.proposal_uri:
        raise SettlementRefused(Kind.conflict, "conflict", "this answers no proposal of ours")
    if peer.answer:
        return  # answered already: a duplicate changes nothing
    if isinstance(answer, PeeringAcceptance):
        try:
            check_peering_acceptance(parse_peering_proposal(loads(peer.proposal)), answer)
        except ActivityPubError as error:
            raise SettlementRefused(Kind.invalid, "malformed", str(error)) from error
        await _activate(session, peer, data)
        return
    advance(peer, PeerState.ended)
    peer.answer, peer.note = dumps(data), answer.reason.value
    peer.updated_at = utcnow()
    session.add(peer)


@dataclass(frozen=True)
class PeerBalance:
    """What this instance owes the peer and is owed by it, in accepted, unpaid batches."""

    peer: Peer
    we_owe: int
    they_owe: int
    notified: int = 0  # a payment notice awaiting confirmation (either way), its amount

    @property
    def net(self) -> int:
        """Positive: we pay the peer; negative: the peer pays us."""
        return self.we_owe - self.they_owe


async def peer_balance(session: AsyncSession, settings: Settings, peer: Peer) -> PeerBalance:
    payable = await balance_of(
        session, settings, Owner(LedgerKind.peer_payable, peer_domain=peer.domain)
    )
    receivable = await balance_of(
        session, settings, Owner(LedgerKind.peer_receivable, peer_domain=peer.domain)
    )
    return PeerBalance(peer, payable, -receivable)


@dataclass(frozen=True)
class Waiting:
    """Shares held for creators on an instance we do not (yet) settle with."""

    domain: str
    amount: int
    creators: int
    state: str  # the peer's state, or "" when there is no agreement at all


async def waiting_instances(db: Database) -> list[Waiting]:
    async with db.session() as session:
        rows = await session.exec(
            select(
                EscrowLine.peer_domain,
                func.sum(EscrowLine.amount),
                func.count(func.distinct(EscrowLine.creator_uri)),
            )
            .where(EscrowLine.state == EscrowState.held, EscrowLine.peer_domain != "")
            .group_by(col(EscrowLine.peer_domain))
            .order_by(col(EscrowLine.peer_domain))
        )
        held = rows.all()
        states = dict((await session.exec(select(Peer.domain, Peer.state))).all())
    return [
        Waiting(domain, int(amount), int(creators), states.get(domain, ""))
        for domain, amount, creators in held
        if states.get(domain) != PeerState.active
    ]


async def list_peers(db: Database, settings: Settings) -> list[PeerBalance]:
    async with db.session() as session:
        peers = (await session.exec(select(Peer).order_by(col(Peer.domain)))).all()
        notices = await session.exec(
            select(SettlementPayment.peer_id, func.sum(SettlementPayment.amount))
            .where(SettlementPayment.state == PaymentState.notified)
            .group_by(col(SettlementPayment.peer_id))
        )
        notified = {int(peer_id): int(amount) for peer_id, amount in notices.all()}
        balances = []
        for peer in peers:
            balance = await peer_balance(session, settings, peer)
            balances.append(replace(balance, notified=notified.get(peer.id or 0, 0)))
        return balances
