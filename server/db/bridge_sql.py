"""The statements of a page of bridged likes: the page's `bridge_like` rows are read, claimed
and given their outcomes a page at a time, one statement a step whatever the page's size.
The writes tell the rows they touched with RETURNING (SQLite and PostgreSQL both have it);
each goes to the driver in one round trip (round_trip.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.bulk import db_time
from server.db.round_trip import run, statement
from server.models import BridgeLikeOutcome


@dataclass(frozen=True)
class SeenLike:
    """A like's row as an earlier poll left it."""

    id: int
    outcome: BridgeLikeOutcome
    seen_before: bool  # first seen before the moment the caller asked about


@dataclass(frozen=True)
class NewLike:
    """A like's row as first seen (refused until judged)."""

    connected_account_id: int
    account_id: int
    network: str
    item_id: str
    like_id: str
    item_url: str
    title: str
    creator_handle: str
    liked_at: datetime | None
    now: datetime


@dataclass(frozen=True)
class LikeOutcome:
    """What one row's like became (`like_id`: the like's id as the network gave it now)."""

    row_id: int
    outcome: BridgeLikeOutcome
    like_id: str
    click_id: int | None = None
    thing_id: int | None = None
    period: str = ""


async def touch_seen(
    session: AsyncSession,
    account_id: int,
    network: str,
    item_ids: Sequence[str],
    *,
    now: datetime,
    since: datetime,
) -> dict[str, SeenLike]:
    """The donor's rows of these items on this network, by item id, marked seen `now`, with
    whether each was first seen before `since` (one UPDATE … RETURNING: a page read again,
    the usual one, costs this statement only)."""
    if not item_ids:
        return {}
    built = await statement(session)
    connection = built.connection
    sql = (
        f"UPDATE bridge_like SET last_seen_at = {built.mark(db_time(connection, now))} "
        f"WHERE account_id = {built.mark(account_id)} AND network = {built.mark(network)} "
        f"AND item_id IN ({built.marks(item_ids)}) "
        f"RETURNING id, item_id, outcome, first_seen_at < {built.mark(db_time(connection, since))}"
    )
    rows = await run(session, sql, built)
    return {
        item: SeenLike(row_id, BridgeLikeOutcome(outcome), bool(before))
        for row_id, item, outcome, before in rows
    }


LIKE_COLUMNS = (
    "connected_account_id, account_id, network, item_id, like_id, item_url, title, "
    "creator_handle, liked_at, first_seen_at, last_seen_at, period, outcome"
)


async def claim_likes(session: AsyncSession, likes: Sequence[NewLike]) -> dict[str, int]:
    """Insert the rows whose (donor, network, item) is new; returns their ids by item id.
    A row another transaction holds is left out: PostgreSQL waits for that transaction
    and skips the row once it commits, SQLite's single writer sees it there already.
    Rows go in the page's order, which ids keep (the donor's page lists a round's likes
    by id); two polls of one donor's items read the network in one order."""
    if not likes:
        return {}
    built = await statement(session)
    connection = built.connection
    refused = BridgeLikeOutcome.refused.value
    rows = [
        (
            *(like.connected_account_id, like.account_id, like.network, like.item_id),
            *(like.like_id, like.item_url, like.title, like.creator_handle),
            None if like.liked_at is None else db_time(connection, like.liked_at),
            *(db_time(connection, like.now), db_time(connection, like.now), "", refused),
        )
        for like in likes
    ]
    sql = (
        f"INSERT INTO bridge_like ({LIKE_COLUMNS}) VALUES {built.rows(rows)} "
        "ON CONFLICT DO NOTHING RETURNING item_id, id"
    )
    return {item: row_id for item, row_id in await run(session, sql, built)}


async def record_outcomes(session: AsyncSession, outcomes: Sequence[LikeOutcome]) -> None:
    """Each row's outcome, in one UPDATE … FROM a VALUES list (its columns are column1…
    in both databases)."""
    if not outcomes:
        return
    built = await statement(session)
    rows = [
        (one.row_id, one.outcome.value, one.like_id, one.click_id, one.thing_id, one.period)
        for one in outcomes
    ]
    casts = ("bigint", "varchar", "varchar", "bigint", "bigint", "varchar")
    sql = (
        "UPDATE bridge_like SET outcome = v.column2, like_id = v.column3, "
        "click_id = v.column4, thing_id = v.column5, period = v.column6 "
        f"FROM (VALUES {built.rows(rows, casts)}) AS v WHERE bridge_like.id = v.column1"
    )
    await run(session, sql, built)
