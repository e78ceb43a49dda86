"""Incoming activities: verify the HTTP signature, then store durably before the 202.

Verification is pure checking (no row written); storing goes through `InboxBatcher`,
which group-commits concurrent requests: each caller awaits the commit of its batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.errors import ActivityPubError, InvalidDocument, SignatureError, SignatureFailure
from activitypub.signatures import (
    SignatureParams,
    SignedMessage,
    check_digest,
    claimed_digest,
    parse_signature_header,
    verify_headers,
    verify_parsed,
)
from activitypub.vocab import NOTE_TYPES, Activity, EmbeddedObject, note_author, parse_activity
from server.db.engine import Database
from server.db.inbox_sql import (
    insert_processing_job,
    store_activities,
    store_activities_for_slice,
    stored_since_and_none_waiting_since,
)
from server.domain_errors import Kind, ServiceError
from server.federation.remote import RemoteActors, RemoteError, domain_of
from server.models import JobState, Peer, PeerState
from server.models.base import utcnow
from server.models.federation import InboxState

log = logging.getLogger("likewise.inbox")

PROCESS_JOB = "inbox.process"
KEY_FAILURES = frozenset({SignatureFailure.BAD_SIGNATURE, SignatureFailure.INVALID_KEY})
BATCH_MAX = 500


class InboxRejected(ServiceError):
    kind = Kind.unauthorized
    code = "signature_rejected"


class InboxInvalid(ServiceError):
    kind = Kind.bad_request
    code = "invalid_activity"


class InboxPost(NamedTuple):  # one a request: a named tuple costs less than a dataclass
    activity: Activity
    text: str  # the body as received, stored verbatim


class SignedHeaders(NamedTuple):
    """A POST whose signature verified over its headers; its body is still unread."""

    signer: str  # the URI of the actor whose key signed
    digest: str  # its signed Digest header: what the body must hash to


def decode_body(body: bytes) -> tuple[str, object]:
    """The body as text and as JSON (authenticated bodies only)."""
    try:
        text = body.decode("utf-8")
        return text, json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InboxInvalid("the body is not UTF-8 JSON") from error


def accept_activity(signer: str, text: str, data: object) -> InboxPost:
    """The activity a verified `signer` sent, refused now (4xx) if it can never be applied."""
    try:
        activity = parse_activity(data)
    except (InvalidDocument, RecursionError) as error:
        raise InboxInvalid(f"not an activity: {error}") from error
    if activity.actor_id != signer:
        raise InboxRejected("the activity's actor is not the key's owner")
    if activity.type in AUTHORED_TYPES:
        _check_authors(activity)
    return InboxPost(activity, text)


AUTHORED_TYPES = frozenset({"Create", "Update"})


def _check_authors(activity: Activity) -> None:
    for item in activity.objects:
        if isinstance(item, EmbeddedObject) and item.type in NOTE_TYPES:
            try:
                author = note_author(activity, item)
            except InvalidDocument as error:
                raise InboxInvalid(f"not an activity: {error}") from error
            if author is None:
                raise InboxInvalid("the note has no attributedTo and is not on the actor's origin")


async def _owner_key(remote: RemoteActors, key_id: str, refresh: bool) -> tuple[str, str] | None:
    try:
        return await remote.key_for(key_id, refresh=refresh)
    except RemoteError as error:
        raise InboxRejected(f"the signing key could not be fetched: {error}") from error


Check = Callable[[SignedMessage, SignatureParams, str], object]


async def _verified_signer(remote: RemoteActors, request: SignedMessage, check: Check) -> str:
    header = request.headers.get("signature")
    if not header:
        raise InboxRejected("the request is not signed")
    try:
        params = parse_signature_header(header)
    except ActivityPubError as error:
        raise InboxRejected(f"bad Signature header: {error}") from error
    owner = remote.known_key(params.key_id)
    if owner is None:
        owner = await _owner_key(remote, params.key_id, refresh=False)
    for attempt in (1, 2):
        if owner is None:
            raise InboxRejected("the signing key is unknown")
        try:
            check(request, params, owner[1])
            return owner[0]
        except SignatureError as error:
            if attempt == 2 or error.reason not in KEY_FAILURES:
                raise InboxRejected(f"signature: {error}") from error
        # The key may have rotated: refetch the actor once, then try again.
        owner = await _owner_key(remote, params.key_id, refresh=True)
    raise InboxRejected("signature does not verify")


async def verify_signature(remote: RemoteActors, request: SignedMessage) -> str:
    """The URI of the actor whose key signed the request (body included), or InboxRejected."""
    return await _verified_signer(remote, request, verify_parsed)


async def verify_signed_headers(remote: RemoteActors, request: SignedMessage) -> SignedHeaders:
    """A POST's signature checked before its body is read: the signer, and the digest the
    body must have (`check_body`). `request.body` is not looked at."""
    signer = await _verified_signer(remote, request, verify_headers)
    digest = request.headers.get("digest", "")
    if len(digest) != COMMON_DIGEST_LENGTH or not digest.startswith("SHA-256="):
        try:  # not as senders write it: refused now if unreadable, before the body is read
            claimed_digest(digest)
        except SignatureError as error:
            raise InboxRejected(f"signature: {error}") from error
    return SignedHeaders(signer, digest)


COMMON_DIGEST_LENGTH = len("SHA-256=") + 44  # base64 of 32 bytes


def check_body(signed: SignedHeaders, computed: bytes) -> None:
    """`computed`: the SHA-256 of the body as it was read."""
    try:
        check_digest(signed.digest, computed)
    except SignatureError as error:
        raise InboxRejected(f"signature: {error}") from error


async def sends_settlement_sizes(db: Database, signer: str) -> bool:
    """Whether `signer` is the instance actor of an active peer (whose batches are large)."""
    query = select(col(Peer.id)).where(
        col(Peer.actor_uri) == signer,
        col(Peer.domain) == domain_of(signer),
        col(Peer.state) == PeerState.active,
    )
    async with db.engine.connect() as connection:
        return (await connection.execute(query)).first() is not None


class InboxUnavailable(ServiceError):
    kind = Kind.unavailable
    code = "inbox_unavailable"


class _Pending(NamedTuple):
    row: dict[str, object]
    future: asyncio.Future[bool]


class InboxBatcher:
    """Group commit: whatever arrived while the previous commit ran (up to BATCH_MAX)
    is inserted in one transaction; each request gets its answer after that commit."""

    def __init__(
        self, db: Database, bucket_seconds: float = 0.0, now: Callable[[], datetime] = utcnow
    ) -> None:
        # The worker is not woken per batch: it polls, so its transactions stay few.
        self.db = db
        self.bucket_seconds = bucket_seconds
        self.now = now  # the clock: when an activity is received, and its time slice
        self.waiting: list[_Pending] = []
        self.arrival: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None
        # The dedupe key of the last processing job this batcher committed (bucketed, SQLite).
        self.queued_job: object = None

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def store(self, post: InboxPost) -> bool:
        """Return once the activity is committed: whether it is new (a repeat of an id
        received before is stored once; senders retry after timeouts)."""
        self._ensure_running()
        activity = post.activity
        row: dict[str, object] = {
            "activity_id": activity.id,
            "actor_uri": activity.actor_id,
            "type": activity.type,
            "body": post.text,
            "state": InboxState.pending.value,
            "error": "",
            "received_at": self.now(),
        }
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Pending(row, future))
        if self.arrival is not None and not self.arrival.done():
            self.arrival.set_result(None)
        return await future

    async def _collect(self) -> list[_Pending]:
        """Everything waiting now; while a commit runs, the next batch gathers."""
        if not self.waiting:
            self.arrival = asyncio.get_running_loop().create_future()
            await self.arrival
        await asyncio.sleep(0)  # requests already scheduled in this turn of the loop join
        batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            try:
                inserted = await self._commit(batch)
            except Exception:  # top level of the batcher: the senders will retry
                log.exception("event=inbox_batch_failed size=%d", len(batch))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(InboxUnavailable("try again later"))
                continue
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_result(pending.row["activity_id"] in inserted)

    async def _commit(self, batch: list[_Pending]) -> set[object]:
        rows: dict[object, dict[str, object]] = {}
        for pending in batch:
            rows.setdefault(pending.row["activity_id"], pending.row)
        if self.bucket_seconds <= 0:
            return await store_activities(
                self.db, rows, lambda ids: processing_job(ids, 0.0, self.now())
            )
        job = processing_job([], self.bucket_seconds, self.now())
        # That slice's job is committed already: inserting it again would be ignored.
        queued = job["dedupe_key"] == self.queued_job
        new = await store_activities_for_slice(self.db, rows, None if queued else job)
        if new:
            self.queued_job = job["dedupe_key"]
        return new


async def deliveries_arriving(db: Database, quiet: timedelta, longest_wait: timedelta) -> bool:
    """Whether an activity was stored under `quiet` ago while none pending has waited
    `longest_wait` yet (SQLite; elsewhere always False). Asked on the writer thread, so it
    never waits for, nor holds up, the inbox's group commits."""
    now = utcnow()
    return await stored_since_and_none_waiting_since(
        db, now - quiet, now - longest_wait, InboxState.pending.value
    )


def processing_job(
    ids: list[int], bucket_seconds: float, now: datetime | None = None
) -> dict[str, object]:
    """One job per batch, or (bucketed) one per time slice that runs once it has ended;
    `now` (default: the time now) places it.

    With SQLite and the worker in-process, fewer jobs mean fewer write transactions
    competing with the inbox; a bucketed job processes every pending item.
    """
    now = utcnow() if now is None else now
    payload: dict[str, object]
    if bucket_seconds > 0:
        slot = math.floor(now.timestamp() / bucket_seconds) + 1
        payload, key = {"pending": True}, f"{PROCESS_JOB}:{slot}"
        run_after = datetime.fromtimestamp(slot * bucket_seconds, UTC)
    else:
        payload, key, run_after = {"ids": ids}, None, now
    return {
        "kind": PROCESS_JOB,
        "payload": json.dumps(payload),
        "dedupe_key": key,
        "state": JobState.queued.value,
        "attempts": 0,
        "max_attempts": 5,
        "run_after": run_after,
        "locked_until": None,
        "locked_by": "",
        "last_error": "",
        "created_at": now,
        "finished_at": None,
    }


async def enqueue_processing(session: AsyncSession, bucket_seconds: float) -> None:
    """A bucketed processing job for the coming time slice (nothing if one exists)."""
    await insert_processing_job(await session.connection(), processing_job([], bucket_seconds))
