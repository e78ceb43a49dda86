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
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.base import Like
from server.connections.notes import note_thing
from server.db.bridge_sql import (
    LikeOutcome,
    NewLike,
    SeenLike,
    claim_likes,
    record_outcomes,
    touch_seen,
)
from server.domain_errors import ServiceError
from server.donations.clicks import (
    ClickOutcome,
    CreatorRef,
    ThingRef,
    record_click,
    remove_click_by_id,
)
from server.donations.clicks_bulk import Clicked, Wish, donor_state, record_clicks
from server.donations.periods import period_of, period_start, previous_period
from server.federation.origins import host_of, same_host
from server.models import (
    Actor,
    BridgeLike,
    BridgeLikeOutcome,
    Click,
    ConnectedAccount,
    Note,
    Period,
    Thing,
)
from server.models.clicks import PeriodStage
from server.settings import Settings
from server.text_checks import has_control_characters, without_control_characters

NETWORK_NAME = re.compile(r"[a-z0-9_]{1,32}")
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
    return without_control_characters(value)[:limit]


def unusable(like: Like, own_domain: str) -> str:
    """Why a like cannot be a click ("" when it can): ids and addresses a hostile server
    might send (empty, oversized, control characters, a scheme we would not link to), or a
    fediverse item whose author lives on another server than the item."""
    creator = like.creator
    if not like.item_id or len(like.item_id) > 2048 or has_control_characters(like.item_id):
        return "an item without a usable id"
    if len(like.like_id) > 2048 or len(like.item_url) > 2048:
        return "an oversized id or address"
    if not like.item_url.startswith(SCHEMES) or has_control_characters(like.item_url):
        return "an item without a usable address"
    if not NETWORK_NAME.fullmatch(creator.network) or not creator.external_id:
        return "an item without an author"
    if len(creator.external_id) > 2048 or has_control_characters(creator.external_id):
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


def _remote_thing(like: Like) -> ThingRef:
    """The item as the network gives it."""
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


async def _thing(session: AsyncSession, like: Like, own_domain: str) -> ThingRef | None:
    """What the like names: for an item on this instance, our own note as we know it (not
    the author the other server claims); else the item as the network gives it."""
    if host_of(like.item_url) == own_domain:
        return await note_thing(session, like.item_url)
    return _remote_thing(like)


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


def _judged(clicked: Clicked) -> Judged:
    if clicked.outcome is None:
        return Judged(BridgeLikeOutcome.refused)
    judged = OUTCOMES[clicked.outcome]
    if judged not in (BridgeLikeOutcome.counted, BridgeLikeOutcome.already_counted):
        return Judged(judged)
    return Judged(judged, clicked.click_id, clicked.thing_id, clicked.period)


async def _note_things(session: AsyncSession, uris: Sequence[str]) -> dict[str, ThingRef]:
    """`note_thing` of each of these URIs at once: the notes we hold, not deleted."""
    if not uris:
        return {}
    query = (
        select(Note.uri, Note.url, Actor)
        .join(Actor, col(Actor.id) == Note.author_id)
        .where(col(Note.uri).in_(uris), col(Note.deleted_at).is_(None))
    )
    things: dict[str, ThingRef] = {}
    for uri, url, author in (await session.exec(query)).all():
        handle = f"@{author.username}@{author.domain}" if author.username else ""
        creator = CreatorRef("fediverse", author.uri, handle=handle, profile_url=author.url)
        things[uri] = ThingRef(uri=uri, creator=creator, title=url)
    return things


async def _things(
    session: AsyncSession, likes: Sequence[Like], own_domain: str
) -> list[ThingRef | None]:
    """`_thing` of each like, our own notes found in one statement."""
    local = {like.item_url for like in likes if host_of(like.item_url) == own_domain}
    notes = await _note_things(session, sorted(local))
    return [
        notes.get(like.item_url) if like.item_url in local else _remote_thing(like)
        for like in likes
    ]


@dataclass(frozen=True)
class Usable:
    """A like to judge, in the open period and usable: its row, the like, its time."""

    row_id: int
    like: Like
    at: datetime


async def _judge_usable(
    session: AsyncSession, settings: Settings, connection: ConnectedAccount, usable: list[Usable]
) -> dict[int, Judged]:
    """`judge_like` of each like, by row id, the clicks made in bulk."""
    if not usable:
        return {}
    things = await _things(session, [one.like for one in usable], settings.domain)
    donor = await donor_state(session, connection.account_id)
    judged: dict[int, Judged] = {}
    wishes: list[Wish] = []
    for one, thing in zip(usable, things, strict=True):
        if thing is None:
            judged[one.row_id] = Judged(BridgeLikeOutcome.refused)
        elif (thing.creator.network, thing.creator.external_id) in donor.elsewhere:
            judged[one.row_id] = Judged(BridgeLikeOutcome.self_like)
        else:
            source_ref = (one.like.like_id or one.like.item_id)[:2048]
            wishes.append(Wish(one.row_id, thing, source_ref, one.at))
    clicked = await record_clicks(
        session,
        settings,
        donor_account_id=connection.account_id,
        source=f"bridge:{connection.network}",
        wishes=wishes,
        donor=donor,
    )
    judged.update({key: _judged(one) for key, one in clicked.items()})
    return judged


@dataclass(frozen=True)
class PageJudging:
    """What a page's likes are judged against."""

    connection: ConnectedAccount
    now: datetime
    baseline: bool


async def _judge_page(
    session: AsyncSession, settings: Settings, page: PageJudging, rows: list[tuple[int, Like]]
) -> list[LikeOutcome]:
    """What each (row id, like) becomes, in page order: likes from before the open period
    and unusable ones are decided here, the others together by `_judge_usable`."""
    judged: dict[int, Judged] = {}
    usable: list[Usable] = []
    for row_id, like in rows:
        at = min(like.liked_at or page.now, page.now)
        if page.baseline and like.liked_at is None:
            judged[row_id] = Judged(BridgeLikeOutcome.before_period)
        elif not await in_open_period(session, at, page.now):
            judged[row_id] = Judged(BridgeLikeOutcome.before_period)
        elif unusable(like, settings.domain):
            judged[row_id] = Judged(BridgeLikeOutcome.refused)
        else:
            usable.append(Usable(row_id, like, at))
    judged.update(await _judge_usable(session, settings, page.connection, usable))
    return [
        LikeOutcome(
            row_id=row_id,
            outcome=judged[row_id].outcome,
            like_id=_text(like.like_id, 2048),
            click_id=judged[row_id].click_id,
            thing_id=judged[row_id].thing_id,
            period=judged[row_id].period,
        )
        for row_id, like in rows
    ]


def _new_like(connection: ConnectedAccount, like: Like, now: datetime) -> NewLike:
    """A like's row as first seen (refused until judged)."""
    return NewLike(
        connected_account_id=connection.id or 0,
        account_id=connection.account_id,
        network=connection.network,
        item_id=like.item_id,
        like_id=_text(like.like_id, 2048),
        item_url=like.item_url if like.item_url.startswith(SCHEMES) else "",
        title=_text(like.title, 300),
        creator_handle=_text(like.creator.handle, 255),
        liked_at=like.liked_at,
        now=now,
    )


def _items(likes: Sequence[Like]) -> dict[str, Like]:
    """The first like of each usable item id, in page order (a page may repeat an item)."""
    items: dict[str, Like] = {}
    for like in likes:
        if like.item_id and len(like.item_id) <= 2048:
            items.setdefault(like.item_id, like)
    return items


def _older(like: Like, row: SeenLike | None, start: datetime) -> bool:
    """Is this like from before the running month (so the likes after it are too)? A row
    says whether it was first seen before `start`."""
    if like.liked_at is not None:
        return like.liked_at < start
    return row is not None and row.seen_before


def _all_older(likes: Sequence[Like], seen: dict[str, SeenLike], start: datetime) -> bool:
    """Is every like of the page (of those with a usable item id) from before the running
    month? An empty page is not; a page of unusable ids is."""
    items = [like for like in likes if like.item_id and len(like.item_id) <= 2048]
    return bool(likes) and all(_older(like, seen.get(like.item_id), start) for like in items)


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
    a network without like times, where nothing seen can be told from an old like.

    A page at a time: the rows seen before are touched, the new ones claimed in one insert
    (those another poll holds are left to it), and the claimed ones, with those taken back
    since and liked again, judged together."""
    items, start = _items(likes), period_start(period_of(now))
    account, network = connection.account_id, connection.network
    seen = await touch_seen(session, account, network, list(items), now=now, since=start)
    older = _all_older(likes, seen, start)
    fresh = [_new_like(connection, like, now) for item, like in items.items() if item not in seen]
    claimed = await claim_likes(session, fresh)
    again = BridgeLikeOutcome.unclicked
    rows = {item: row.id for item, row in seen.items() if row.outcome == again}
    rows.update(claimed)
    judging = [(rows[item], like) for item, like in items.items() if item in rows]
    outcomes = await _judge_page(session, settings, PageJudging(connection, now, baseline), judging)
    await record_outcomes(session, outcomes)
    counted = sum(one.outcome == BridgeLikeOutcome.counted for one in outcomes)
    return PageReport(new=len(claimed), counted=counted, older_reached=older)


async def sweep_disappeared(
    session: AsyncSession, connection: ConnectedAccount, round_started_at: datetime, now: datetime
) -> int:
    """After a round that read every like of the running month: each counted like of this
    month the round did not see again was taken back on the network, so it is unclicked
    (while its period is open). Returns how many clicks were removed."""
    return await unclick_counted(
        session, connection, now, col(BridgeLike.last_seen_at) < round_started_at
    )


async def unclick_counted(
    session: AsyncSession, connection: ConnectedAccount, now: datetime, *where: Any
) -> int:
    """The connection's counted likes of the running month that match `where`, taken back:
    each one's click goes (while its period is open) and the row says `unclicked`. Returns
    how many clicks were removed."""
    query = select(BridgeLike).where(
        BridgeLike.connected_account_id == connection.id,
        BridgeLike.outcome == BridgeLikeOutcome.counted,
        BridgeLike.period == period_of(now),
        *where,
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
