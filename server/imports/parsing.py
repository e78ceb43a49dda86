"""The `imports.parse` job: read one uploaded export, resolve what it does not say, and keep
its likes for the donor's preview.

The parser runs in a thread while this coroutine writes its progress to the batch row every
half second (the page shows it). The upload is deleted once read, refused or not. Mastodon
archive items (status URIs without authors) are fetched over ActivityPub, a bounded number
at a time; a status not found, or whose author lives on another server than the status,
stays unresolved, as do X likes whose address names no account. Likes are written in chunks
of `CHUNK` rows: each is unique per (donor, network, item), so what an earlier import
brought is a duplicate, and a job run again after a crash finds its own rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.errors import ActivityPubError
from activitypub.vocab import parse_note
from bridges.base import Creator
from bridges.importers.base import ImportedLike, ImportResult
from server.connections.ingest import SCHEMES
from server.connections.notes import note_thing
from server.db.engine import Database
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import ServiceError
from server.donations.periods import period_of, previous_period
from server.federation.origins import host_of, same_host
from server.federation.remote import RemoteActors, build_client
from server.imports.formats import ExportRefused, parse
from server.imports.uploads import delete_upload
from server.jobs.handler import JobContext
from server.jobs.queue import ClaimedJob
from server.models import ImportBatch, ImportLike, ImportLikeOutcome, ImportState, Period
from server.models.base import utcnow
from server.models.clicks import PeriodStage
from server.states import advance, moving
from server.text_checks import has_control_characters, without_control_characters

CHUNK = 500
RESOLVE_AT_MOST = 500  # status URIs fetched per import; the rest wait unresolved
RESOLVE_AT_ONCE = 4
RESOLVE_SECONDS = 20.0
W = ImportLikeOutcome


def _text(value: str, limit: int) -> str:
    return without_control_characters(value)[:limit]


def _url(value: str) -> str:
    return value if value.startswith(SCHEMES) and not has_control_characters(value) else ""


@dataclass
class _Tracker:
    done: int = 0
    total: int = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total


async def _progress(db: Database, batch_id: int, step: str, done: int, total: int) -> bool:
    """Write the progress; False when the batch is no longer being read (cancelled)."""
    async with db.transaction() as session:
        moved = await session.exec(
            update(ImportBatch)
            .where(col(ImportBatch.id) == batch_id, col(ImportBatch.state) == ImportState.parsing)
            .values(step=step, progress_done=done, progress_total=total, updated_at=utcnow())
        )
        return bool(moved.rowcount)


async def _start(db: Database, batch_id: int) -> ImportBatch | None:
    async with db.transaction() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None:
            return None
        if batch.state not in (ImportState.uploaded, ImportState.parsing):
            delete_upload(batch.upload_path)
            return None
        advance(batch, ImportState.parsing)
        batch.step, batch.progress_done, batch.progress_total = "reading", 0, batch.size_bytes
        batch.updated_at = utcnow()
        session.add(batch)
        return batch


async def _fail(db: Database, batch_id: int, message: str) -> None:
    async with db.transaction() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.state not in (ImportState.uploaded, ImportState.parsing):
            return
        await session.exec(delete(ImportLike).where(col(ImportLike.batch_id) == batch_id))
        advance(batch, ImportState.failed)
        batch.error, batch.upload_path, batch.updated_at = message[:500], "", utcnow()
        session.add(batch)


async def _read(db: Database, batch_id: int, path: Path, network: str | None) -> ImportResult:
    tracker = _Tracker()
    reading = asyncio.ensure_future(asyncio.to_thread(parse, path, network, tracker))
    while not reading.done():
        await asyncio.wait({reading}, timeout=0.5)
        await _progress(db, batch_id, "reading", tracker.done, tracker.total)
    return reading.result()


async def _author(context: JobContext, remote: RemoteActors, uri: str) -> Creator | None:
    """The author of the status at `uri`: ours from the database, a remote one fetched; it
    must live on the status's own server (nothing else says who wrote it)."""
    if host_of(uri) == context.settings.domain:
        async with context.db.session() as session:
            thing = await note_thing(session, uri)
        if thing is None:
            return None
        ref = thing.creator
        return Creator(ref.network, ref.external_id, ref.handle, ref.profile_url)
    try:
        document = await asyncio.wait_for(remote.fetch_document(uri), RESOLVE_SECONDS)
        author = parse_note(document).attributed_to
    except (TimeoutError, ServiceError, ActivityPubError):
        return None
    if not same_host(uri, author) or not same_host(str(document.get("id", "")), uri):
        return None
    return Creator("fediverse", author)


async def _resolve(context: JobContext, batch_id: int, likes: list[ImportedLike]) -> None:
    """Fill in the authors of fediverse statuses the archive lists without them."""
    wanted = [
        n for n, like in enumerate(likes) if like.creator is None and like.network == "mastodon"
    ][:RESOLVE_AT_MOST]
    if not wanted:
        return
    await _progress(context.db, batch_id, "resolving", 0, len(wanted))
    remote = RemoteActors(
        context.db, context.settings, build_client(context.settings, context.http)
    )
    gate = asyncio.Semaphore(RESOLVE_AT_ONCE)
    done = 0

    async def one(index: int) -> None:
        nonlocal done
        async with gate:
            creator = await _author(context, remote, likes[index].item_url)
        if creator is not None:
            likes[index] = replace(likes[index], creator=creator)
        done += 1
        if done % 20 == 0:
            await _progress(context.db, batch_id, "resolving", done, len(wanted))

    await asyncio.gather(*(one(index) for index in wanted))


@dataclass(frozen=True)
class _Judge:
    """Where a new like goes before the donor confirms."""

    open_periods: frozenset[str]
    now: datetime
    undated_count: bool  # an earlier import of this network was counted: undated likes are new

    def outcome(self, like: ImportedLike) -> ImportLikeOutcome:
        if like.creator is None:
            return W.unresolved
        if like.liked_at is None:
            return W.waiting if self.undated_count else W.before_period
        at = min(like.liked_at, self.now)
        return W.waiting if period_of(at) in self.open_periods else W.before_period


async def open_periods(session: AsyncSession, now: datetime) -> frozenset[str]:
    """The running month, and the month before while it has not started closing."""
    current = period_of(now)
    before = previous_period(current)
    row = await session.get(Period, before)
    if row is not None and row.stage == PeriodStage.open:
        return frozenset({current, before})
    return frozenset({current})


def _row(batch: ImportBatch, like: ImportedLike, judge: _Judge) -> dict[str, Any]:
    creator = like.creator
    return {
        "batch_id": batch.id,
        "account_id": batch.account_id,
        "network": batch.network,
        "item_id": like.item_id,
        "item_url": _url(like.item_url),
        "title": _text(like.title, 300),
        "creator_network": _text(creator.network, 32) if creator else "",
        "creator_id": _text(creator.external_id, 2048) if creator else "",
        "creator_handle": _text(creator.handle, 255) if creator else "",
        "creator_url": _url(creator.profile_url)[:2048] if creator else "",
        "liked_at": like.liked_at,
        "outcome": judge.outcome(like).value,
        "period": "",
    }


async def _prepare(db: Database, batch_id: int, network: str) -> tuple[ImportBatch, _Judge] | None:
    """Name the network, discard an earlier import of it still waiting for confirmation
    (this one replaces it), and decide how undated likes count."""
    now = utcnow()
    async with db.transaction() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.state != ImportState.parsing:
            return None
        batch.network = batch.network or network
        others = select(ImportBatch.id).where(
            ImportBatch.account_id == batch.account_id,
            ImportBatch.network == batch.network,
            col(ImportBatch.id) != batch_id,
            col(ImportBatch.state) == ImportState.previewed,
        )
        replaced = list((await session.exec(others)).all())
        if replaced:
            await session.exec(delete(ImportLike).where(col(ImportLike.batch_id).in_(replaced)))
            await session.exec(
                update(ImportBatch)
                .where(
                    col(ImportBatch.id).in_(replaced),
                    moving(col(ImportBatch.state), ImportState.previewed, to=ImportState.cancelled),
                )
                .values(state=ImportState.cancelled, updated_at=now)
            )
        counted = select(ImportBatch.id).where(
            ImportBatch.account_id == batch.account_id,
            ImportBatch.network == batch.network,
            col(ImportBatch.state) == ImportState.counted,
        )
        undated = (await session.exec(counted.limit(1))).first() is not None
        judge = _Judge(await open_periods(session, now), now, undated)
        session.add(batch)
        return batch, judge


def _usable(likes: Sequence[ImportedLike]) -> tuple[list[ImportedLike], int]:
    """Each item once, with an id we can keep; how many entries were left out."""
    seen: set[str] = set()
    kept = []
    for like in likes:
        item = like.item_id
        if not item or len(item) > 2048 or has_control_characters(item) or item in seen:
            continue
        seen.add(item)
        kept.append(like)
    return kept, len(likes) - len(kept)


async def _save(
    db: Database, batch_id: int, result: ImportResult, likes: list[ImportedLike]
) -> None:
    prepared = await _prepare(db, batch_id, result.network)
    if prepared is None:
        return
    batch, judge = prepared
    kept, left_out = _usable(likes)
    for start in range(0, len(kept), CHUNK):
        if not await _progress(db, batch_id, "saving", start, len(kept)):
            return  # cancelled meanwhile
        rows = [_row(batch, like, judge) for like in kept[start : start + CHUNK]]
        async with db.transaction() as session:
            await session.exec(insert_ignoring_duplicates(session, ImportLike).values(rows))
    delete_upload(batch.upload_path)
    await _finish(db, batch_id, result, len(kept), left_out)


async def _finish(
    db: Database, batch_id: int, result: ImportResult, found: int, left_out: int
) -> None:
    async with db.transaction() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.state != ImportState.parsing:
            await session.exec(delete(ImportLike).where(col(ImportLike.batch_id) == batch_id))
            return
        mine = col(ImportLike.batch_id) == batch_id
        by_outcome = select(ImportLike.outcome, func.count()).where(mine)
        grouped = await session.exec(by_outcome.group_by(col(ImportLike.outcome)))
        counts = {ImportLikeOutcome(outcome): int(n) for outcome, n in grouped.all()}
        first, last, creators = (
            await session.exec(
                select(
                    func.min(ImportLike.liked_at),
                    func.max(ImportLike.liked_at),
                    func.count(func.distinct(ImportLike.creator_id)),
                ).where(mine, col(ImportLike.creator_id) != "")
            )
        ).one()
        batch.found = found
        batch.in_period = counts.get(W.waiting, 0)
        batch.older = counts.get(W.before_period, 0)
        batch.unresolved = counts.get(W.unresolved, 0)
        batch.duplicates = max(found - sum(counts.values()), 0)
        batch.skipped = result.skipped + left_out
        batch.first_liked_at, batch.last_liked_at, batch.creators = first, last, int(creators)
        batch.notes = "\n".join(_text(note, 500) for note in result.notes[:20])
        batch.step, batch.progress_done, batch.progress_total = "done", found, found
        batch.upload_path, batch.updated_at = "", utcnow()
        advance(batch, ImportState.previewed)
        session.add(batch)


async def parse_batch(context: JobContext, batch_id: int) -> None:
    """Read one batch's upload to its preview (or its refusal). The upload is deleted once
    its likes are kept, or at once when it is refused; a crash before that reads it again."""
    batch = await _start(context.db, batch_id)
    if batch is None:
        return
    path = batch.upload_path
    if not path or not Path(path).is_file():
        await _fail(context.db, batch_id, "the uploaded file is gone; upload it again")
        return
    try:
        result = await _read(context.db, batch_id, Path(path), batch.network or None)
    except ExportRefused as refused:
        delete_upload(path)
        await _fail(context.db, batch_id, refused.message)
        return
    likes = list(result.likes)
    await _resolve(context, batch_id, likes)
    await _save(context.db, batch_id, result, likes)


async def handle_parse(context: JobContext, job: ClaimedJob) -> None:
    batch = job.payload.get("batch")
    if not isinstance(batch, int):
        return
    try:
        await parse_batch(context, batch)
    except Exception:
        # The worker retries; after the last attempt the import fails and its file goes.
        if job.attempts >= job.max_attempts:
            async with context.db.session() as session:
                row = await session.get(ImportBatch, batch)
            delete_upload(row.upload_path if row is not None else "")
            await _fail(context.db, batch, "this file could not be imported; try again later")
        raise
