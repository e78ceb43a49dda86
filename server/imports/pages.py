"""What the donor's import pages show: the formats, their recent imports, and one import's
progress or preview (what it found, what will count, what is older and not charged)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.imports.batches import batch_of
from server.imports.formats import LABELS, Format, formats
from server.models import ImportBatch, ImportLike, ImportLikeOutcome, ImportState

LISTED = 30
RECENT = 10
RUNNING = (ImportState.uploaded, ImportState.parsing)
STEPS = {
    "waiting": "Waiting for its turn",
    "reading": "Reading the file",
    "resolving": "Finding who wrote the statuses",
    "saving": "Keeping the likes found",
    "done": "Read",
}


@dataclass(frozen=True)
class Listed:
    title: str
    url: str
    creator: str
    liked_at: datetime | None


@dataclass(frozen=True)
class CreatorCount:
    name: str
    likes: int


@dataclass
class BatchView:
    batch: ImportBatch
    label: str
    step: str
    percent: int
    running: bool
    creators: list[CreatorCount] = field(default_factory=list)
    older: list[Listed] = field(default_factory=list)
    unresolved: list[Listed] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.batch.id or 0)

    @property
    def notes(self) -> list[str]:
        return [line for line in self.batch.notes.splitlines() if line]


@dataclass(frozen=True)
class ImportsPage:
    formats: list[Format]
    recent: list[BatchView]


def _percent(batch: ImportBatch) -> int:
    if batch.progress_total <= 0:
        return 0
    return max(0, min(100, batch.progress_done * 100 // batch.progress_total))


def view(batch: ImportBatch) -> BatchView:
    return BatchView(
        batch=batch,
        label=LABELS.get(batch.network, "Detecting the format"),
        step=STEPS.get(batch.step, batch.step),
        percent=_percent(batch),
        running=batch.state in RUNNING,
    )


def _listed(row: ImportLike) -> Listed:
    creator = row.creator_handle or row.creator_id
    url = row.item_url if row.item_url.startswith(("https://", "http://")) else ""
    return Listed(row.title or url or row.item_id, url, creator, row.liked_at)


async def _rows(session: AsyncSession, batch_id: int, outcome: ImportLikeOutcome) -> list[Listed]:
    query = (
        select(ImportLike)
        .where(ImportLike.batch_id == batch_id, ImportLike.outcome == outcome)
        .order_by(col(ImportLike.liked_at).desc(), col(ImportLike.id))
        .limit(LISTED)
    )
    return [_listed(row) for row in (await session.exec(query)).all()]


async def _creators(session: AsyncSession, batch_id: int) -> list[CreatorCount]:
    name = func.max(ImportLike.creator_handle)
    query = (
        select(ImportLike.creator_id, name, func.count())
        .where(ImportLike.batch_id == batch_id, col(ImportLike.creator_id) != "")
        .group_by(col(ImportLike.creator_id))
        .order_by(func.count().desc(), col(ImportLike.creator_id))
        .limit(LISTED)
    )
    found = (await session.exec(query)).all()
    return [CreatorCount(handle or creator, int(count)) for creator, handle, count in found]


async def imports_page(db: Database, donor_id: int) -> ImportsPage:
    async with db.reading() as session:
        query = (
            select(ImportBatch)
            .where(ImportBatch.account_id == donor_id)
            .order_by(col(ImportBatch.id).desc())
            .limit(RECENT)
        )
        recent = [view(batch) for batch in (await session.exec(query)).all()]
    return ImportsPage(formats(), recent)


async def batch_page(db: Database, donor_id: int, batch_id: int) -> BatchView:
    """One import: its progress while read, else what it found."""
    async with db.reading() as session:
        batch = await batch_of(session, donor_id, batch_id)
        shown = view(batch)
        if batch.state in (ImportState.previewed, ImportState.counted, ImportState.confirmed):
            shown.creators = await _creators(session, batch_id)
            shown.older = await _rows(session, batch_id, ImportLikeOutcome.before_period)
            shown.unresolved = await _rows(session, batch_id, ImportLikeOutcome.unresolved)
        return shown


async def progress(db: Database, donor_id: int, batch_id: int) -> dict[str, object]:
    """The small JSON a page polls while the import is read."""
    async with db.reading() as session:
        batch = await batch_of(session, donor_id, batch_id)
        shown = view(batch)
    return {
        "state": batch.state.value,
        "step": shown.step,
        "done": batch.progress_done,
        "total": batch.progress_total,
        "percent": shown.percent,
        "running": shown.running,
    }
