"""Plumbing every settlement document shares: this instance's signing key, envelopes,
proof checks on what peers send, and the persisted send job.

A document is signed (Ed25519 proof over its RFC 8785 form) and stored in the same
transaction that changes the state it reports, and that transaction also queues its
delivery; the delivery job signs the HTTP request with the instance actor's RSA key. A
peer answers either in the response body (receipts, refusals, automatic answers) or
later with a POST of its own to our instance inbox; both go through `apply_answer`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.client import ActivityPubClient
from activitypub.delivery import MAX_ATTEMPTS, Verdict, classify_response, next_retry_delay
from activitypub.errors import ActivityPubError, BlockedAddress, ProofError, SettlementError
from activitypub.keys import ed25519_private_from_pem
from activitypub.settlement import (
    Envelope,
    SettlementDocument,
    document_amounts,
    parse_settlement_document,
    sign_document,
    verify_document,
)
from server.accounts.actors import instance_actor
from server.domain_errors import Kind, ServiceError
from server.federation.remote import domain_of, signer_of
from server.jobs.handler import GiveUp, JobContext, RetryLater
from server.jobs.queue import ClaimedJob, enqueue
from server.models import Actor, Peer
from server.models.base import utcnow
from server.models.ledger import AMOUNT_CEILING
from server.settings import Settings

SEND_JOB = "settlement.send"
DOCUMENT_MAX_BYTES = 32 * 1024 * 1024  # a batch of 100,000 lines with their clicks


class SettlementRefused(ServiceError):
    """A peer's document refused as a whole: what kind of failure, `code` the reason a peer
    reads, and `document` our signed Reject, if any. Nothing it would have written stays."""

    def __init__(
        self, kind: Kind, code: str, message: str, document: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.document = document


@dataclass(frozen=True)
class Receipt:
    """How a peer's document was taken, when it was not refused whole. `answer` is our signed
    reply, sent back at once: a receipt, an acceptance, a confirmation, or (`refused`) a
    refusal that was recorded, so that a repeat of the document gets the same. None: taken,
    with nothing to answer now (it waits on our admin, or it was itself an answer)."""

    answer: dict[str, object] | None = None
    refused: bool = False

    def __post_init__(self) -> None:
        if self.refused and self.answer is None:
            raise ValueError("a refusal is a signed answer")


@dataclass(frozen=True)
class LocalSigner:
    actor: Actor
    key: ed25519.Ed25519PrivateKey

    @property
    def uri(self) -> str:
        return self.actor.uri

    @property
    def method(self) -> str:
        return f"{self.actor.uri}#ed25519-key"

    def envelope(self, settings: Settings, recipient: str) -> Envelope:
        return Envelope(
            id=f"{settings.base_url}/settlements/{uuid.uuid4()}",
            actor=self.uri,
            recipient=recipient,
            published=utcnow(),
        )

    def sign(self, document: Mapping[str, object]) -> dict[str, object]:
        return sign_document(document, self.key, self.method)


async def local_signer(session: AsyncSession, settings: Settings) -> LocalSigner:
    actor = await instance_actor(session, settings)
    if actor is None or not actor.ed25519_private_pem:
        raise ServiceError("the instance actor has no Ed25519 key; run `likewise migrate`")
    return LocalSigner(actor, ed25519_private_from_pem(actor.ed25519_private_pem))


def dumps(document: Mapping[str, object]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def check_proof(document: Mapping[str, object], peer: Peer) -> None:
    """The document's proof must be by the peer's instance actor key we stored."""
    try:
        verify_document(document, peer.ed25519_multibase, peer.actor_uri)
    except ProofError as error:
        raise SettlementRefused(
            Kind.unauthorized, "bad_proof", f"the document's proof fails: {error}"
        ) from error


def parse_document(data: object) -> SettlementDocument:
    try:
        return parse_settlement_document(data)
    except SettlementError as error:
        raise SettlementRefused(
            Kind.bad_request, "malformed", f"not a valid settlement document: {error}"
        ) from error


@dataclass(frozen=True)
class UnitProblem:
    """Why an amount in a peer's document cannot be booked here."""

    too_large: bool  # else: another currency or scale
    message: str


def unit_problem(document: SettlementDocument, settings: Settings) -> UnitProblem | None:
    """Every amount must be in this instance's currency and its ISO 4217 scale (0.100 EUR
    at scale 3 is not 1.00 EUR), and within the ceiling; the first that is not, or None."""
    currency, scale = settings.currency, settings.currency_scale
    for name, amount in document_amounts(document):
        if amount.currency != currency or amount.scale != scale:
            return UnitProblem(
                False,
                f"{name} is in {amount.currency} with scale {amount.scale}; this instance "
                f"settles in {currency} with scale {scale}",
            )
        if abs(amount.value) > AMOUNT_CEILING:
            return UnitProblem(
                True, f"{name} is beyond the ceiling of {AMOUNT_CEILING} minor units"
            )
    return None


def check_units(document: SettlementDocument, settings: Settings) -> None:
    """An answer whose amounts are not in our unit is refused whole, nothing booked."""
    problem = unit_problem(document, settings)
    if problem is not None:
        code = "amount_too_large" if problem.too_large else "wrong_currency"
        raise SettlementRefused(Kind.refused, code, problem.message)


async def peer_of_actor(session: AsyncSession, actor_uri: str) -> Peer | None:
    """The peer whose instance actor this is, locked for the caller's transaction."""
    query = select(Peer).where(Peer.domain == domain_of(actor_uri)).with_for_update()
    row = await session.exec(query)
    peer = row.first()
    if peer is not None and peer.actor_uri and peer.actor_uri != actor_uri:
        return None
    return peer


async def queue_send(session: AsyncSession, peer: Peer, document: Mapping[str, object]) -> None:
    """Deliver a signed document to the peer's instance inbox, in the caller's transaction."""
    await enqueue(
        session,
        SEND_JOB,
        {"peer_id": peer.id, "body": dumps(document)},
        max_attempts=MAX_ATTEMPTS + 1,
    )


AnswerHandler = Callable[[JobContext, Peer, dict[str, object]], Awaitable[None]]


def settlement_client(settings: Settings, context: JobContext) -> ActivityPubClient:
    return ActivityPubClient(
        context.http,
        allow_private=settings.dev,
        allow_http=settings.dev,
        max_bytes=DOCUMENT_MAX_BYTES,
        user_agent=f"Likewise (+{settings.base_url})",
    )


def _answer_of(body: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("type") in {"Accept", "Reject"} and "proof" in data:
        return data
    return None


def _retry_delay(context: JobContext, job: ClaimedJob, retry_after: float | None) -> timedelta:
    if retry_after is None:
        base = next_retry_delay(job.attempts) or 0.0
        retry_after = base * context.settings.delivery_backoff_scale
    return timedelta(seconds=max(retry_after, 0.05))


async def send_document(context: JobContext, job: ClaimedJob, apply: AnswerHandler) -> None:
    """POST one stored document; an answer in the response is applied at once."""
    async with context.db.session() as session:
        peer = await session.get(Peer, int(job.payload["peer_id"]))
        actor = await instance_actor(session, context.settings)
    if peer is None or actor is None or not peer.inbox:
        raise GiveUp("the peer or the instance actor is gone")
    body = str(job.payload["body"]).encode()
    client = settlement_client(context.settings, context)
    try:
        result = await client.post(peer.inbox, body, signer_of(actor), read_body=True)
    except BlockedAddress as error:
        raise GiveUp(str(error)) from error
    except ActivityPubError as error:
        raise RetryLater(str(error), _retry_delay(context, job, None)) from error
    answer = _answer_of(result.body)
    if answer is not None and result.status < 500:
        await apply(context, peer, answer)
        return
    outcome = classify_response(result.status, result.headers, utcnow())
    if outcome.verdict is Verdict.DELIVERED:
        return
    text = result.body[:500].decode("utf-8", "replace")
    if outcome.verdict is Verdict.PERMANENT:
        raise GiveUp(f"{peer.inbox} answered {result.status}: {text}")
    delay = _retry_delay(context, job, outcome.retry_after)
    raise RetryLater(f"{peer.inbox} answered {result.status}: {text}", delay)


def loads(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("stored document is not a JSON object")
    return data
