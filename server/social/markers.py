"""Timeline read markers (Mastodon's `/api/v1/markers`): where an account stopped reading
its home timeline and its notifications. Each save bumps the marker's version, so apps of
the same person can tell a newer position from their own."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlmodel import col, select

from server.db.engine import Database
from server.db.upsert import dialect_insert
from server.domain_errors import ValidationFailed
from server.models import Account, Marker
from server.models.base import utcnow
from server.models.markers import MARKER_TIMELINES

# Status ids are row ids; notification ids and remote accounts' ids may carry a letter.
_READ_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def timelines_asked(names: Iterable[str]) -> list[str]:
    """The known timelines among `names`, in Mastodon's order; unknown names are ignored,
    as Mastodon ignores them."""
    asked = set(names)
    return [name for name in MARKER_TIMELINES if name in asked]


async def markers(db: Database, account: Account, timelines: Iterable[str]) -> list[Marker]:
    """The account's markers for `timelines` (those it has saved)."""
    wanted = timelines_asked(timelines)
    if not wanted:
        return []
    query = select(Marker).where(
        Marker.account_id == (account.id or 0), col(Marker.timeline).in_(wanted)
    )
    async with db.session() as session:
        found = list((await session.exec(query)).all())
    return sorted(found, key=lambda marker: MARKER_TIMELINES.index(marker.timeline))


def _checked(positions: Mapping[str, str]) -> dict[str, str]:
    saving = {name: positions[name] for name in timelines_asked(positions)}
    if not saving:
        raise ValidationFailed("give home[last_read_id] or notifications[last_read_id]")
    for name, last_read_id in saving.items():
        if not _READ_ID.fullmatch(last_read_id):
            raise ValidationFailed(f"{name}[last_read_id] is not an id", field=name)
    return saving


async def save_markers(
    db: Database, account: Account, positions: Mapping[str, str]
) -> list[Marker]:
    """Save the last read id of each timeline in `positions` (an upsert: two apps saving at
    once both count), and answer the markers saved."""
    saving = _checked(positions)
    account_id = account.id or 0
    async with db.transaction() as session:
        for timeline, last_read_id in saving.items():
            now = utcnow()
            insert = dialect_insert(session, Marker).values(
                account_id=account_id,
                timeline=timeline,
                last_read_id=last_read_id,
                version=1,
                updated_at=now,
            )
            await session.exec(
                insert.on_conflict_do_update(
                    index_elements=["account_id", "timeline"],
                    set_={
                        "last_read_id": last_read_id,
                        "version": Marker.__table__.c.version + 1,  # type: ignore[attr-defined]
                        "updated_at": now,
                    },
                )
            )
    return await markers(db, account, saving)
