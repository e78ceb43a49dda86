"""One page of a connected account's likes, made clicks through the one click contract.

Each like is written once as a `bridge_like` row, unique per (donor, network, item): a
re-poll, a restart or two workers racing see the row and make no second click (the row is
inserted before the click, in the same transaction; the loser of a race finds it there).
The row keeps what the like became: counted, already counted (another road clicked the same
thing this period, such as the linked actor's Like at our inbox), liked before the open
period (shown, never charged), a self-like, paused, or refused (an item we cannot use).

Only likes whose time falls in the open period count: the network's like time, or the time
we first saw the like where the network gives none. A network that gives no like time
(Mastodon) has no way to tell an old favourite from a new one on the first round after
connecting, so that round only takes note of what is there ("before you connected").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.base import Like
from server.connections.notes import note_thing
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import ServiceError
from server.donations.clicks import (
    ClickOutcome,
    CreatorRef,
    ThingRef,
    record_click,
    remove_click_by_id,
)
from server.donations.periods import period_of, period_start, previous_period
from server.federation.origins import host_of, same_host
from server.models import BridgeLike, BridgeLikeOutcome, Click, ConnectedAccount, Period, Thing
from server.models.clicks import PeriodStage
from server.settings import Settings

NETWORK_NAME = re.compile(r"[a-z0-9_]{1,32}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A Facebook export names a reaction without its post's address: `urn:facebook-export:…`.
SCHEMES = ("https://", "http://", "at://", "urn:facebook-export:")
OUTCOMES = {
    ClickOutcome.recorded: BridgeLikeOutcome.counted,
    ClickOutcome.duplicate: BridgeLikeOutcome.already_counted,
    ClickOutcome.self_like: BridgeLikeOutcome.self_like,
    ClickOutcome.paused: BridgeLikeOutcome.paused,
    ClickOutcome.not_a_donor: BridgeLikeOutcome.refused,
}


@dataclass(frozen=True)
class PageReport:
    new: int = 0  # likes seen for the first time
    counted: int = 0  # of those, clicks made
    # Every like of the page is from before the running month: the round may stop here (a
    # page, not one like, so one backdated like cannot hide this month's likes below it).
    older_reached: bool = False


def _text(value: str, limit: int) -> str:
    return CONTROL.sub("", value)[:limit]


def unusable(like: Like, own_domain: str) -> str:
    """Why a like cannot be a click ("" when it can): ids and addresses a hostile server
    might send (empty, oversized, control characters, a scheme we would not link to), or a
    fediverse item whose author lives on another server than the item."""
    creator = like.creator
    if not like.item_id or len(like.item_id) > 2048 or CONTROL.search(like.item_id):
        return "an item without a usable id"
    if len(like.like_id) > 2048 or len(like.item_url) > 2048:
        return "an oversized id or address"
    if not like.item_url.startswith(SCHEMES) or CONTROL.search(like.item_url):
        return "an item without a usable address"
    if not NETWORK_NAME.fullmatch(creator.network) or not creator.external_id:
        return "an item without an author"
    if len(creator.external_id) > 2048 or CONTROL.search(creator.external_id):
        return "an author without a usable id"
    local = host_of(like.item_url) == own_domain
    if creator.network == "fediverse" and not local:
        if not same_host(like.item_url, creator.external_id):
            return "an item whose author lives on another server"
    return ""


async def in_open_period(session: AsyncSession, at: datetime, now: datetime) -> bool:
    """A like at `at` counts when it falls in the running month, or in the month before
    while that one has not started closing."""
    period, current = period_of(at), period_of(now)
    if period == current:
        return True
    if period != previous_period(current):
        return False
    row = await session.get(Period, period)
    return row is not None and row.stage == PeriodStage.open


async def _thing(session: AsyncSession, like: Like, own_domain: str) -> ThingRef | None:
    """What the like names: for an item on this instance, our own note as we know it (not
    the author the other server claims); else the item as the network gives it."""
    if host_of(like.item_url) == own_domain:
        return await note_thing(session, like.item_url)
    creator = like.creator
    return ThingRef(
        uri=like.item_url,
        creator=CreatorRef(
            network=creator.network,
            external_id=creator.external_id,
            handle=_text(creator.handle, 255),
            profile_url=creator.profile_url if creator.profile_url.startswith(SCHEMES) else "",
        ),
        title=_text(like.title, 300),
    )


async def _own_identity(session: AsyncSession, donor_id: int, creator: CreatorRef) -> bool:
    """Is the creator one of the donor's own connected accounts?"""
    query = select(ConnectedAccount.id).where(
        ConnectedAccount.account_id == donor_id,
        ConnectedAccount.network == creator.network,
        ConnectedAccount.external_id == creator.external_id,
    )
    return (await session.exec(query.limit(1))).first() is not None


async def _click_of(
    session: AsyncSession, donor_id: int, uri: str
) -> tuple[int | None, int | None, str]:
    """(click id, thing id, period) of the donor's newest click on the thing."""
    query = (
        select(Click.id, Click.thing_id, Click.period)
        .join(Thing, col(Thing.id) == Click.thing_id)
        .where(Click.donor_id == donor_id, Thing.uri == uri)
        .order_by(col(Click.id).desc())
        .limit(1)
    )
    found = (await session.exec(query)).first()
    return (found[0], found[1], found[2]) if found is not None else (None, None, "")


@dataclass(frozen=True)
class Judged:
    outcome: BridgeLikeOutcome
    click_id: int | None = None
    thing_id: int | None = None
    period: str = ""


async def judge_like(
    session: AsyncSession, settings: Settings, donor_id: int, source: str, like: Like, at: datetime
) -> Judged:
    """What one new like in the open period becomes; the click is made here when it counts
    (`source`: `bridge:<network>`, or `import:<network>` for a data export's like)."""
    if unusable(like, settings.domain):
        return Judged(BridgeLikeOutcome.refused)
    thing = await _thing(session, like, settings.domain)
    if thing is None:
        return Judged(BridgeLikeOutcome.refused)
    if await _own_identity(session, donor_id, thing.creator):
        return Judged(BridgeLikeOutcome.self_like)
    try:
        async with session.begin_nested():
            outcome = await record_click(
                session,
                settings,
                donor_account_id=donor_id,
                thing=thing,
                source=source,
                source_ref=(like.like_id or like.item_id)[:2048],
                at=at,
            )
    except ServiceError:
        return Judged(BridgeLikeOutcome.refused)
    judged = OUTCOMES[outcome]
    if judged not in (BridgeLikeOutcome.counted, BridgeLikeOutcome.already_counted):
        return Judged(judged)
    click_id, thing_id, period = await _click_of(session, donor_id, thing.uri)
    return Judged(judged, click_id, thing_id, period)


async def _judge(
    session: AsyncSession,
    settings: Settings,
    connection: ConnectedAccount,
    like: Like,
    at: datetime,
) -> Judged:
    source = f"bridge:{connection.network}"
    return await judge_like(session, settings, connection.account_id, source, like, at)


async def _decide(
    session: AsyncSession,
    settings: Settings,
    connection: ConnectedAccount,
    like: Like,
    now: datetime,
    baseline: bool,
) -> Judged:
    at = min(like.liked_at or now, now)
    if baseline and like.liked_at is None:
        return Judged(BridgeLikeOutcome.before_period)
    if not await in_open_period(session, at, now):
        return Judged(BridgeLikeOutcome.before_period)
    return await _judge(session, settings, connection, like, at)


async def _seen(
    session: AsyncSession, connection: ConnectedAccount, likes: Sequence[Like]
) -> dict[str, BridgeLike]:
    ids = list({like.item_id for like in likes if like.item_id})
    if not ids:
        return {}
    query = select(BridgeLike).where(
        BridgeLike.account_id == connection.account_id,
        BridgeLike.network == connection.network,
        col(BridgeLike.item_id).in_(ids),
    )
    return {row.item_id: row for row in (await session.exec(query)).all()}


async def _claim_row(
    session: AsyncSession, connection: ConnectedAccount, like: Like, now: datetime
) -> BridgeLike | None:
    """Insert the like's row (refused until judged); None when another poll has it."""
    values = {
        "connected_account_id": connection.id,
        "account_id": connection.account_id,
        "network": connection.network,
        "item_id": like.item_id,
        "like_id": _text(like.like_id, 2048),
        "item_url": like.item_url if like.item_url.startswith(SCHEMES) else "",
        "title": _text(like.title, 300),
        "creator_handle": _text(like.creator.handle, 255),
        "liked_at": like.liked_at,
        "first_seen_at": now,
        "last_seen_at": now,
        "period": "",
        "outcome": BridgeLikeOutcome.refused.value,
    }
    inserted = await session.exec(insert_ignoring_duplicates(session, BridgeLike).values(**values))
    if inserted.rowcount != 1:
        return None
    query = select(BridgeLike).where(
        BridgeLike.account_id == connection.account_id,
        BridgeLike.network == connection.network,
        BridgeLike.item_id == like.item_id,
    )
    return (await session.exec(query)).one()


def _older(like: Like, row: BridgeLike | None, start: datetime) -> bool:
    """Is this like from before the running month (so the likes after it are too)?"""
    if like.liked_at is not None:
        return like.liked_at < start
    return row is not None and row.first_seen_at < start


async def ingest_page(
    session: AsyncSession,
    settings: Settings,
    connection: ConnectedAccount,
    likes: Sequence[Like],
    *,
    now: datetime,
    baseline: bool,
) -> PageReport:
    """Record one page of likes in the caller's transaction. `baseline`: the first round of
    a network without like times, where nothing seen can be told from an old like."""
    seen = await _seen(session, connection, likes)
    start = period_start(period_of(now))
    new = counted = 0
    older = bool(likes)  # every like of the page older than the running month
    for like in likes:
        if not like.item_id or len(like.item_id) > 2048:
            continue
        row = seen.get(like.item_id)
        older = older and _older(like, row, start)
        if row is not None:
            row.last_seen_at = now
            session.add(row)
            if row.outcome != BridgeLikeOutcome.unclicked:
                continue
            row.like_id = _text(like.like_id, 2048)  # liked again after it was taken back
        else:
            row = await _claim_row(session, connection, like, now)
            if row is None:
                continue
            seen[like.item_id] = row
            new += 1
        judged = await _decide(session, settings, connection, like, now, baseline)
        row.outcome, row.click_id, row.thing_id = judged.outcome, judged.click_id, judged.thing_id
        row.period = judged.period
        session.add(row)
        counted += judged.outcome == BridgeLikeOutcome.counted
    await session.flush()
    return PageReport(new=new, counted=counted, older_reached=older)


async def sweep_disappeared(
    session: AsyncSession, connection: ConnectedAccount, round_started_at: datetime, now: datetime
) -> int:
    """After a round that read every like of the running month: each counted like of this
    month the round did not see again was taken back on the network, so it is unclicked
    (while its period is open). Returns how many clicks were removed."""
    query = select(BridgeLike).where(
        BridgeLike.connected_account_id == connection.id,
        BridgeLike.outcome == BridgeLikeOutcome.counted,
        BridgeLike.period == period_of(now),
        col(BridgeLike.last_seen_at) < round_started_at,
    )
    removed = 0
    for row in (await session.exec(query)).all():
        if row.click_id is not None and await remove_click_by_id(
            session, connection.account_id, row.click_id
        ):
            row.outcome = BridgeLikeOutcome.unclicked
            session.add(row)
            removed += 1
    return removed
