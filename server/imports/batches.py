"""What the donor does with an import once read: confirm it (its likes of the open period
become clicks, `source = import:<network>`) or cancel it (its likes are discarded).

Confirming moves the batch previewed → confirmed by a conditional UPDATE, so of two
submits (a double click, two tabs) only one counts; the other finds it confirmed and
shows the same result. Likes are judged again at confirmation: a month that closed
meanwhile makes its likes older ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.base import Creator, Like
from server.connections.ingest import judge_like
from server.db.engine import Database
from server.domain_errors import Conflict, NotFound
from server.donations.periods import period_of
from server.imports.parsing import open_periods
from server.imports.uploads import delete_upload
from server.models import ImportBatch, ImportLike, ImportLikeOutcome, ImportState
from server.models.base import utcnow
from server.settings import Settings
from server.states import advance, moving

CHUNK = 500
W = ImportLikeOutcome
CANCELLABLE = (ImportState.uploaded, ImportState.parsing, ImportState.previewed)


async def batch_of(session: AsyncSession, donor_id: int, batch_id: int) -> ImportBatch:
    batch = await session.get(ImportBatch, batch_id)
    if batch is None or batch.account_id != donor_id:
        raise NotFound("no such import")
    return batch


def _like(row: ImportLike) -> Like:
    creator = Creator(row.creator_network, row.creator_id, row.creator_handle, row.creator_url)
    return Like(
        like_id=row.item_id,
        item_id=row.item_id,
        item_url=row.item_url,
        creator=creator,
        title=row.title,
        liked_at=row.liked_at,
    )


async def _count(
    session: AsyncSession, settings: Settings, batch: ImportBatch, row: ImportLike, now: datetime
) -> None:
    """Judge one waiting like and record what it became (the click is made there)."""
    at = min(row.liked_at or now, now)
    if period_of(at) not in await open_periods(session, now):
        row.outcome = W.before_period
        return
    source = f"import:{batch.network}"
    judged = await judge_like(session, settings, batch.account_id, source, _like(row), at)
    row.outcome = W(judged.outcome.value)
    row.click_id, row.period = judged.click_id, judged.period


async def _count_all(session: AsyncSession, settings: Settings, batch: ImportBatch) -> int:
    now = utcnow()
    counted = 0
    last = 0
    while True:
        query = (
            select(ImportLike)
            .where(
                ImportLike.batch_id == batch.id,
                ImportLike.outcome == W.waiting,
                col(ImportLike.id) > last,
            )
            .order_by(col(ImportLike.id))
            .limit(CHUNK)
        )
        rows = (await session.exec(query)).all()
        if not rows:
            return counted
        for row in rows:
            await _count(session, settings, batch, row, now)
            counted += row.outcome == W.counted
            session.add(row)
            last = int(row.id or 0)
        await session.flush()


async def confirm(db: Database, settings: Settings, donor_id: int, batch_id: int) -> ImportBatch:
    """Count the import's likes of the open period; a second confirm changes nothing."""
    async with db.transaction() as session:
        batch = await batch_of(session, donor_id, batch_id)
        moved = await session.exec(
            update(ImportBatch)
            .where(
                col(ImportBatch.id) == batch_id,
                moving(col(ImportBatch.state), ImportState.previewed, to=ImportState.confirmed),
            )
            .values(state=ImportState.confirmed, updated_at=utcnow())
        )
        await session.refresh(batch)
        if moved.rowcount != 1:
            if batch.state in (ImportState.confirmed, ImportState.counted):
                return batch  # the same confirmation, submitted twice
            raise Conflict(f"this import is {batch.state.value}: there is nothing to confirm")
        batch.counted = await _count_all(session, settings, batch)
        advance(batch, ImportState.counted)
        batch.updated_at = utcnow()
        session.add(batch)
        return batch


async def cancel(db: Database, donor_id: int, batch_id: int) -> ImportBatch:
    """Discard an import not yet confirmed: its likes and its file."""
    async with db.transaction() as session:
        batch = await batch_of(session, donor_id, batch_id)
        if batch.state == ImportState.cancelled:
            return batch
        if batch.state not in CANCELLABLE:
            raise Conflict(f"this import is {batch.state.value}: it can no longer be cancelled")
        await session.exec(delete(ImportLike).where(col(ImportLike.batch_id) == batch_id))
        delete_upload(batch.upload_path)
        advance(batch, ImportState.cancelled)
        batch.upload_path, batch.updated_at = "", utcnow()
        session.add(batch)
        return batch
