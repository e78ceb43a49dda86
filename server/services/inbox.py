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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.errors import ActivityPubError, InvalidDocument, SignatureError, SignatureFailure
from activitypub.signatures import SignedMessage, parse_signature_header, verify_parsed
from activitypub.vocab import Activity, parse_activity
from server.db import Database
from server.models import InboxItem, Job
from server.models.base import utcnow
from server.services.errors import ServiceError
from server.services.remote import RemoteActors, RemoteError

log = logging.getLogger("likewise.inbox")

PROCESS_JOB = "inbox.process"
KEY_FAILURES = frozenset({SignatureFailure.BAD_SIGNATURE, SignatureFailure.INVALID_KEY})
BATCH_MAX = 500
LOOKUP_CHUNK = 500  # below SQLite's bound-parameter limit


class InboxRejected(ServiceError):
    status_code = 401
    code = "signature_rejected"


class InboxInvalid(ServiceError):
    status_code = 400
    code = "invalid_activity"


@dataclass(frozen=True)
class SignedRequest:
    """An incoming request as its signature covers it; `headers` has lower-case names."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class InboxPost:
    activity: Activity
    text: str  # the body as received, stored verbatim


def parse_body(body: bytes) -> Activity:
    return _parse_post(body).activity


def _parse_post(body: bytes) -> InboxPost:
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InboxInvalid("the body is not UTF-8 JSON") from error
    try:
        return InboxPost(parse_activity(data), text)
    except (InvalidDocument, RecursionError) as error:
        raise InboxInvalid(f"not an activity: {error}") from error


async def _owner_key(remote: RemoteActors, key_id: str, refresh: bool) -> tuple[str, str] | None:
    try:
        return await remote.key_for(key_id, refresh=refresh)
    except RemoteError as error:
        raise InboxRejected(f"the signing key could not be fetched: {error}") from error


async def verify_signature(remote: RemoteActors, request: SignedRequest) -> str:
    """The URI of the actor whose key signed the request, or InboxRejected."""
    header = request.headers.get("signature")
    if not header:
        raise InboxRejected("the request is not signed")
    try:
        params = parse_signature_header(header)
    except ActivityPubError as error:
        raise InboxRejected(f"bad Signature header: {error}") from error
    message = SignedMessage(request.method, request.path, request.headers, request.body)
    owner = await _owner_key(remote, params.key_id, refresh=False)
    for attempt in (1, 2):
        if owner is None:
            raise InboxRejected("the signing key is unknown")
        try:
            verify_parsed(message, params, owner[1])
            return owner[0]
        except SignatureError as error:
            if attempt == 2 or error.reason not in KEY_FAILURES:
                raise InboxRejected(f"signature: {error}") from error
        # The key may have rotated: refetch the actor once, then try again.
        owner = await _owner_key(remote, params.key_id, refresh=True)
    raise InboxRejected("signature does not verify")


async def verify_inbox_post(remote: RemoteActors, request: SignedRequest) -> InboxPost:
    signer_uri = await verify_signature(remote, request)
    post = _parse_post(request.body)
    if post.activity.actor_id != signer_uri:
        raise InboxRejected("the activity's actor is not the key's owner")
    return post


class DuplicateActivity(ServiceError):
    status_code = 400
    code = "duplicate_activity"


class InboxUnavailable(ServiceError):
    status_code = 503
    code = "inbox_unavailable"


@dataclass
class _Pending:
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

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def store(self, post: InboxPost) -> None:
        """Return once the activity is committed; DuplicateActivity if its id was seen."""
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
        if not await future:
            raise DuplicateActivity("this activity was already received")

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
            bucket = self.bucket_seconds
            return await self.db.sqlite_writer().transaction(
                lambda connection: _store_known_new(connection, table, jobs, rows, bucket)
            )
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


def _store_known_new(
    connection: sqlite3.Connection,
    table: Any,
    jobs: Any,
    rows: dict[object, dict[str, object]],
    bucket_seconds: float,
) -> set[object]:
    """The SQLite group commit on the writer thread: the write lock is held from BEGIN, so
    looking the ids up and inserting the new ones is exact."""
    keys = list(rows)
    known: set[object] = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        query = f"SELECT activity_id FROM {table.name} WHERE activity_id IN ({marks})"
        known.update(row[0] for row in connection.execute(query, chunk))
    new = [row for key, row in rows.items() if key not in known]
    if new:
        _insert_or_ignore(connection, table, new)
        _insert_or_ignore(connection, jobs, [processing_job([], bucket_seconds)])
    return {row["activity_id"] for row in new}


_SQLITE = sqlite_dialect.dialect()


def _insert_or_ignore(
    connection: sqlite3.Connection, table: Any, rows: list[dict[str, object]]
) -> None:
    """`server.db.insert_or_ignore`, but one statement for many rows: the writer thread
    then waits for the GIL (busy serving requests) once per chunk, not twice per row. And
    one dialect for every batch: a column type caches its bind processor per dialect
    instance, and looking it up afresh costs ~25 µs."""
    columns = list(rows[0])
    processors = [table.c[name].type._cached_bind_processor(_SQLITE) for name in columns]
    values = [
        processor(row[name]) if processor else row[name]
        for row in rows
        for name, processor in zip(columns, processors, strict=True)
    ]
    names, row_marks = ", ".join(columns), "(" + ", ".join("?" for _ in columns) + ")"
    step = LOOKUP_CHUNK * len(columns)
    for start in range(0, len(values), step):
        chunk = values[start : start + step]
        marks = ", ".join(row_marks for _ in range(len(chunk) // len(columns)))
        connection.execute(f"INSERT OR IGNORE INTO {table.name} ({names}) VALUES {marks}", chunk)


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
