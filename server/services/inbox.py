"""Incoming activities: verify the HTTP signature, then store durably before the 202.

Verification is pure checking (no row written); storing goes through `InboxBatcher`,
which group-commits concurrent requests: each caller awaits the commit of its batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from activitypub.errors import ActivityPubError, InvalidDocument, SignatureError, SignatureFailure
from activitypub.signatures import parse_signature_header, verify_request
from activitypub.vocab import Activity, parse_activity
from server.db import Database
from server.models import InboxItem, Job
from server.models.base import utcnow
from server.services.errors import ServiceError
from server.services.remote import RemoteActors, RemoteError

log = logging.getLogger("likewise.inbox")

PROCESS_JOB = "inbox.process"
KEY_FAILURES = frozenset({SignatureFailure.BAD_SIGNATURE, SignatureFailure.INVALID_KEY})
BATCH_WINDOW = 0.004
BATCH_MAX = 500


class InboxRejected(ServiceError):
    status_code = 401
    code = "signature_rejected"


class InboxInvalid(ServiceError):
    status_code = 400
    code = "invalid_activity"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


def parse_body(body: bytes) -> Activity:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InboxInvalid("the body is not JSON") from error
    try:
        return parse_activity(data)
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
        key_id = parse_signature_header(header).key_id
    except ActivityPubError as error:
        raise InboxRejected(f"bad Signature header: {error}") from error
    owner = await _owner_key(remote, key_id, refresh=False)
    for attempt in (1, 2):
        if owner is None:
            raise InboxRejected("the signing key is unknown")
        try:
            verify_request(request.method, request.path, request.headers, request.body, owner[1])
            return owner[0]
        except SignatureError as error:
            if attempt == 2 or error.reason not in KEY_FAILURES:
                raise InboxRejected(f"signature: {error}") from error
        # The key may have rotated: refetch the actor once, then try again.
        owner = await _owner_key(remote, key_id, refresh=True)
    raise InboxRejected("signature does not verify")


async def verify_inbox_post(remote: RemoteActors, request: SignedRequest) -> Activity:
    signer_uri = await verify_signature(remote, request)
    activity = parse_body(request.body)
    if activity.actor_id != signer_uri:
        raise InboxRejected("the activity's actor is not the key's owner")
    return activity


class DuplicateActivity(ServiceError):
    status_code = 400
    code = "duplicate_activity"


@dataclass
class _Pending:
    row: dict[str, object]
    future: asyncio.Future[bool]


class InboxBatcher:
    """Group commit: inserts collected for a few ms (or up to BATCH_MAX) share a commit."""

    def __init__(self, db: Database, wake: asyncio.Event | None = None) -> None:
        self.db = db
        self.wake = wake
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def store(self, activity: Activity, body: bytes) -> None:
        """Return once the activity is committed; DuplicateActivity if its id was seen."""
        self._ensure_running()
        row: dict[str, object] = {
            "activity_id": activity.id,
            "actor_uri": activity.actor_id,
            "type": activity.type,
            "body": body.decode("utf-8"),
            "state": "pending",
            "error": "",
            "received_at": utcnow(),
        }
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(row, future))
        if not await future:
            raise DuplicateActivity("this activity was already received")

    async def _collect(self) -> list[_Pending]:
        batch = [await self.queue.get()]
        deadline = asyncio.get_running_loop().time() + BATCH_WINDOW
        while len(batch) < BATCH_MAX:
            timeout = deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), timeout))
            except TimeoutError:
                break
        while len(batch) < BATCH_MAX and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            try:
                inserted = await self._commit(batch)
            except Exception as error:  # top level of the batcher: fail the waiting requests
                log.exception("event=inbox_batch_failed size=%d", len(batch))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_result(pending.row["activity_id"] in inserted)
            if self.wake is not None and inserted:
                self.wake.set()

    async def _commit(self, batch: list[_Pending]) -> set[object]:
        rows: dict[object, dict[str, object]] = {}
        for pending in batch:
            rows.setdefault(pending.row["activity_id"], pending.row)
        table = InboxItem.__table__  # type: ignore[attr-defined]
        dialect_insert = sqlite_insert if self.db.is_sqlite else pg_insert
        statement = (
            dialect_insert(table)
            .on_conflict_do_nothing(index_elements=["activity_id"])
            .returning(table.c.id, table.c.activity_id)
        )
        async with self.db.engine.begin() as connection:
            result = await connection.execute(statement, list(rows.values()))
            stored = result.all()
            if stored:
                await connection.execute(
                    insert(Job.__table__),  # type: ignore[attr-defined]
                    [_process_job([row[0] for row in stored])],
                )
        return {row[1] for row in stored}


def _process_job(ids: list[int]) -> dict[str, object]:
    now = utcnow()
    return {
        "kind": PROCESS_JOB,
        "payload": json.dumps({"ids": ids}),
        "dedupe_key": None,
        "state": "queued",
        "attempts": 0,
        "max_attempts": 5,
        "run_after": now,
        "locked_until": None,
        "locked_by": "",
        "last_error": "",
        "created_at": now,
        "finished_at": None,
    }


RETRY_STALE = timedelta(minutes=10)
