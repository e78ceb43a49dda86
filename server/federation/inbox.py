"""Incoming activities: verify the HTTP signature, then store durably before the 202.

Verification is pure checking (no row written); storing goes through `InboxBatcher`,
which group-commits concurrent requests: each caller awaits the commit of its batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
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
from server.db.engine import SQLITE_DIALECT, Database, insert_or_ignore
from server.domain_errors import Kind, ServiceError
from server.federation.remote import RemoteActors, RemoteError, domain_of
from server.models import InboxItem, Job, Peer, PeerState
from server.models.base import utcnow

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

    def __init__(self, db: Database, bucket_seconds: float = 0.0) -> None:
        # The worker is not woken per batch: it polls, so its transactions stay few.
        self.db = db
        self.bucket_seconds = bucket_seconds
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
            "state": "pending",
            "error": "",
            "received_at": utcnow(),
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
        table = InboxItem.__table__  # type: ignore[attr-defined]
        jobs = Job.__table__  # type: ignore[attr-defined]
        if self.db.is_sqlite and self.bucket_seconds > 0:
            job = processing_job([], self.bucket_seconds)
            # That slice's job is committed already: inserting it again would be ignored.
            queued = job["dedupe_key"] == self.queued_job
            new = await self.db.sqlite_writer().transaction(
                lambda connection: _store_new(
                    connection, table, rows, None if queued else (jobs, job)
                )
            )
            if new:
                self.queued_job = job["dedupe_key"]
            return new
        async with self.db.engine.begin() as connection:
            if self.bucket_seconds > 0:
                stored_ids, ids = await self._insert_known_new(connection, table, rows)
            else:
                statement = (
                    self._insert(table)
                    .on_conflict_do_nothing(index_elements=["activity_id"])
                    .returning(table.c.id, table.c.activity_id)
                )
                stored = (await connection.execute(statement, list(rows.values()))).all()
                stored_ids, ids = {row[1] for row in stored}, [row[0] for row in stored]
            if stored_ids:
                job = processing_job(ids, self.bucket_seconds)
                await connection.execute(
                    self._insert(jobs).on_conflict_do_nothing(index_elements=["dedupe_key"]), [job]
                )
        return stored_ids

    async def _insert_known_new(
        self, connection: AsyncConnection, table: Any, rows: dict[object, dict[str, object]]
    ) -> tuple[set[object], list[int]]:
        """Single writer (SQLite, one process): look the ids up, insert the new ones.

        Cheaper than RETURNING row by row; the write lock taken at BEGIN makes it exact.
        """
        query = select(table.c.activity_id).where(table.c.activity_id.in_(list(rows)))
        known = set((await connection.execute(query)).scalars().all())
        new = [row for key, row in rows.items() if key not in known]
        if new:
            await connection.execute(self._insert(table).on_conflict_do_nothing(), new)
        return {row["activity_id"] for row in new}, []

    def _insert(self, table: Any) -> Any:
        return sqlite_insert(table) if self.db.is_sqlite else pg_insert(table)


def _store_new(
    connection: sqlite3.Connection,
    table: Any,
    rows: dict[object, dict[str, object]],
    job: tuple[Any, dict[str, object]] | None,
) -> set[object]:
    """The SQLite group commit on the writer thread: INSERT OR IGNORE, then (only if some
    were there already) the ids of the rows it inserted. The write lock is held from BEGIN
    and SQLite gives a new row the largest rowid + 1, so those are the last `inserted` rows."""
    inserted = insert_or_ignore(connection, table, list(rows.values()))
    if inserted == len(rows):
        new = set(rows)
    else:
        query = f"SELECT activity_id FROM {table.name} ORDER BY id DESC LIMIT ?"
        new = {row[0] for row in connection.execute(query, (inserted,))}
    if new and job is not None:
        insert_or_ignore(connection, job[0], [job[1]])
    return new


def _arriving(
    connection: sqlite3.Connection, table: Any, since: object, pending_since: object
) -> bool:
    received = table.c.received_at.type._cached_bind_processor(SQLITE_DIALECT)
    newest = f"SELECT received_at FROM {table.name} ORDER BY id DESC LIMIT 1"
    oldest = f"SELECT received_at FROM {table.name} WHERE state = 'pending' ORDER BY id LIMIT 1"
    query = f"SELECT ({newest}) > ?, ({oldest}) > ?"
    row = connection.execute(query, (received(since), received(pending_since))).fetchone()
    return bool(row[0]) and bool(row[1])


async def deliveries_arriving(db: Database, quiet: timedelta, longest_wait: timedelta) -> bool:
    """Whether an activity was stored under `quiet` ago while none pending has waited
    `longest_wait` yet (SQLite; elsewhere always False). Asked on the writer thread, so it
    never waits for, nor holds up, the inbox's group commits."""
    if not db.is_sqlite:
        return False
    table = InboxItem.__table__  # type: ignore[attr-defined]
    now = utcnow()
    return await db.sqlite_writer().transaction(
        lambda connection: _arriving(connection, table, now - quiet, now - longest_wait)
    )


def processing_job(ids: list[int], bucket_seconds: float) -> dict[str, object]:
    """One job per batch, or (bucketed) one per time slice that runs once it has ended.

    With SQLite and the worker in-process, fewer jobs mean fewer write transactions
    competing with the inbox; a bucketed job processes every pending item.
    """
    now = utcnow()
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
        "state": "queued",
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
    jobs = Job.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    insert = sqlite_insert if connection.dialect.name == "sqlite" else pg_insert
    statement = insert(jobs).on_conflict_do_nothing(index_elements=["dedupe_key"])
    await connection.execute(statement, [processing_job([], bucket_seconds)])
