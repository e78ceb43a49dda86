"""Many likes of one donor made clicks at once, under `record_click`'s contract: once per
donor, thing and period, never a like of the donor's own identity, nothing while the
donor is paused or not a donor. A page of likes costs a few statements, not a few a like:
the donor is read once, identities and things are made and found by key for the whole
page, and the clicks are inserted in one statement that skips those the donor has (made
by another road, or by a transaction that got there first).

Like `clicks.py`, these functions run in the caller's transaction and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.clicks_sql import (
    IdentityKey,
    NewClick,
    NewIdentity,
    NewThing,
    StoredIdentity,
    StoredThing,
    donor_clicks,
    donor_rows,
    fill_identities,
    identities_by_key,
    insert_clicks,
    insert_identities,
    insert_things,
    local_owners,
    period_stage,
    things_by_uri,
)
from server.donations.clicks import (
    ORIGIN_NETWORKS,
    ClickOutcome,
    CreatorRef,
    ThingRef,
    check_source,
    original_creator,
    thing_kind,
)
from server.donations.periods import lock_period, next_period, period_of
from server.federation.origins import own_url
from server.models.base import utcnow
from server.models.clicks import PeriodStage
from server.settings import Settings


@dataclass(frozen=True)
class Wish:
    """One like to be a click; `key` is the caller's name for it."""

    key: int
    thing: ThingRef
    source_ref: str
    at: datetime


@dataclass(frozen=True)
class Clicked:
    """What a wish became. `outcome` None: the thing cannot be stored (no URI, or a
    creator without network or id), where `record_click` raises ValidationFailed. A
    recorded or duplicate click names the donor's newest click on the thing."""

    outcome: ClickOutcome | None
    click_id: int | None = None
    thing_id: int | None = None
    period: str = ""


def storable(thing: ThingRef) -> bool:
    """Would `ensure_thing` store this thing?"""
    creator = original_creator(thing.creator)
    return 0 < len(thing.uri) <= 2048 and bool(creator.network and creator.external_id)


@dataclass(frozen=True)
class DonorState:
    """What decides a donor's clicks before any thing is looked at."""

    refusal: ClickOutcome | None  # not a donor (none, or suspended), or paused
    actor_uri: str  # the donor's own actor, "" if none
    # (network, external id) of the donor's own accounts elsewhere (connected accounts),
    # whatever their state: a like of one of them is a self-like.
    elsewhere: frozenset[tuple[str, str]]


async def donor_state(session: AsyncSession, donor_id: int) -> DonorState:
    """The donor's state, in one statement."""
    rows = await donor_rows(session, donor_id)
    elsewhere = frozenset((row[3], row[4]) for row in rows if row[3] is not None)
    if not rows or rows[0][0] is not None:
        return DonorState(ClickOutcome.not_a_donor, "", elsewhere)
    if rows[0][1]:
        return DonorState(ClickOutcome.paused, "", elsewhere)
    return DonorState(None, rows[0][2] or "", elsewhere)


def _profile_url(creator: CreatorRef) -> str:
    """The profile URL `ensure_identity` keeps: none on another host than a fediverse or web
    creator's id."""
    profile_url = creator.profile_url
    if profile_url and creator.network in ORIGIN_NETWORKS:
        profile_url = own_url(profile_url, creator.external_id)
    return profile_url[:2048]


def _new_identity(creator: CreatorRef, owner: int | None) -> NewIdentity:
    """An identity row as `ensure_identity` makes it (a local actor's claimed at once)."""
    return NewIdentity(
        network=creator.network,
        external_id=creator.external_id,
        handle=creator.handle[:255],
        profile_url=_profile_url(creator),
        claimed_account_id=owner,
        now=utcnow(),
    )


async def _missing_identities(
    session: AsyncSession, originals: dict[IdentityKey, list[CreatorRef]]
) -> dict[IdentityKey, StoredIdentity]:
    """Insert the identities not found (a local actor's claimed at once), then find them."""
    fediverse = [external for network, external in originals if network == "fediverse"]
    owners = await local_owners(session, fediverse)
    rows = [
        _new_identity(found[0], owners.get(key[1]) if key[0] == "fediverse" else None)
        for key, found in originals.items()
    ]
    await insert_identities(session, rows)
    return await identities_by_key(session, list(originals))


def _fill(stored: StoredIdentity, creators: Sequence[CreatorRef]) -> tuple[int, str, str] | None:
    """The handle and profile URL the identity lacks, from the first creator that gives
    one (as `ensure_identity`, one like after the other, fills them)."""
    handle = "" if stored.handle else next((c.handle[:255] for c in creators if c.handle), "")
    profiles = (_profile_url(creator) for creator in creators)
    profile = "" if stored.profile_url else next((url for url in profiles if url), "")
    return (stored.id, handle, profile) if handle or profile else None


async def ensure_identities(
    session: AsyncSession, creators: Sequence[CreatorRef]
) -> dict[CreatorRef, StoredIdentity]:
    """The identity of each creator (of the original, for a bridged copy), made if new."""
    originals: dict[IdentityKey, list[CreatorRef]] = {}
    key_of: dict[CreatorRef, IdentityKey] = {}
    for creator in creators:
        original = original_creator(creator)
        key_of[creator] = (original.network, original.external_id)
        originals.setdefault(key_of[creator], []).append(original)
    stored = await identities_by_key(session, list(originals))
    missing = {key: found for key, found in originals.items() if key not in stored}
    if missing:
        stored.update(await _missing_identities(session, missing))
    fills = [_fill(stored[key], found) for key, found in originals.items()]
    await fill_identities(session, [fill for fill in fills if fill is not None])
    return {creator: stored[key] for creator, key in key_of.items()}


async def ensure_things(
    session: AsyncSession, settings: Settings, things: Sequence[ThingRef]
) -> dict[str, StoredThing]:
    """The row of each thing by URI, made if new (the first of a URI names it)."""
    identities = await ensure_identities(session, [thing.creator for thing in things])
    first: dict[str, ThingRef] = {}
    for thing in things:
        first.setdefault(thing.uri, thing)
    now = utcnow()
    rows = [
        NewThing(
            uri,
            thing_kind(settings, thing).value,
            identities[thing.creator].id,
            thing.title[:300],
            now,
        )
        for uri, thing in first.items()
    ]
    made = await insert_things(session, rows)
    stored: dict[str, StoredThing] = {}
    for uri, thing_id in made.items():
        identity = identities[first[uri].creator]
        stored[uri] = StoredThing(
            thing_id, identity.network, identity.external_id, identity.claimed_account_id
        )
    stored.update(await things_by_uri(session, [uri for uri in first if uri not in made]))
    return stored


def _own(thing: StoredThing, donor_id: int, own_actor_uri: str) -> bool:
    """Is the thing's creator the donor (a claimed identity, or the donor's own actor)?"""
    if thing.claimed_account_id == donor_id:
        return True
    return thing.network == "fediverse" and thing.external_id == own_actor_uri


async def _locked_stage(session: AsyncSession, period: str) -> str:
    """`lock_period` (shared)'s stage, in one statement where the row exists (all but a
    month's first click)."""
    stage = await period_stage(session, period)
    if stage is None:
        stage = (await lock_period(session, period, exclusive=False)).stage
    return stage


async def _open_period(session: AsyncSession, at: datetime) -> str:
    """`open_period_for(at)`: the month of `at`, or the first later one not closing."""
    period = period_of(at)
    while await _locked_stage(session, period) != PeriodStage.open:
        period = next_period(period)
    return period


async def _periods(session: AsyncSession, wishes: Sequence[Wish]) -> dict[str, str]:
    """The open period of each month the wishes fall in (its row locked shared)."""
    periods: dict[str, str] = {}
    for wish in wishes:
        month = period_of(wish.at)
        if month not in periods:
            periods[month] = await _open_period(session, wish.at)
    return periods


@dataclass(frozen=True)
class _Click:
    """A wish placed: its thing and period."""

    wish: Wish
    thing_id: int
    period: str


def _click_rows(donor_id: int, source: str, placed: Sequence[_Click]) -> list[NewClick]:
    """A click for the first wish of each (thing, period), in the wishes' order."""
    first: dict[tuple[int, str], _Click] = {}
    for one in placed:
        first.setdefault((one.thing_id, one.period), one)
    return [
        NewClick(donor_id, thing_id, period, source, one.wish.source_ref, one.wish.at)
        for (thing_id, period), one in first.items()
    ]


async def _insert(
    session: AsyncSession, donor_id: int, source: str, placed: Sequence[_Click]
) -> dict[int, Clicked]:
    """One click per (thing, period), the first wish's. The others, and those the donor
    already had, are duplicates naming the donor's newest click on the thing when their
    turn came: the last made before them in this batch, else the newest from before."""
    made = await insert_clicks(session, _click_rows(donor_id, source, placed))
    mine = set(made.values())
    earlier = {}
    if len(made) < len(placed):
        earlier = await donor_clicks(session, donor_id, sorted({one.thing_id for one in placed}))
    clicked: dict[int, Clicked] = {}
    latest: dict[int, tuple[int | None, str]] = {}
    for one in placed:
        click_id = made.pop((one.thing_id, one.period), None)
        if click_id is not None:
            latest[one.thing_id] = (click_id, one.period)
            made_now = Clicked(ClickOutcome.recorded, click_id, one.thing_id, one.period)
            clicked[one.wish.key] = made_now
            continue
        if one.thing_id not in latest:
            before = [click for click in earlier.get(one.thing_id, []) if click[0] not in mine]
            latest[one.thing_id] = max(before, default=(None, ""))
        found, period = latest[one.thing_id]
        clicked[one.wish.key] = Clicked(ClickOutcome.duplicate, found, one.thing_id, period)
    return clicked


async def record_clicks(
    session: AsyncSession,
    settings: Settings,
    *,
    donor_account_id: int,
    source: str,
    wishes: Sequence[Wish],
    donor: DonorState | None = None,
) -> dict[int, Clicked]:
    """What each wish became, by its key, as `record_click` one wish after the other would
    decide it (keys must be distinct). `donor`: its state, if the caller read it."""
    check_source(source)
    if not wishes:
        return {}
    if donor is None:
        donor = await donor_state(session, donor_account_id)
    if donor.refusal is not None:
        return {wish.key: Clicked(donor.refusal) for wish in wishes}
    clicked = {wish.key: Clicked(None) for wish in wishes if not storable(wish.thing)}
    usable = [wish for wish in wishes if wish.key not in clicked]
    things = await ensure_things(session, settings, [wish.thing for wish in usable])
    counting: list[Wish] = []
    for wish in usable:
        if _own(things[wish.thing.uri], donor_account_id, donor.actor_uri):
            clicked[wish.key] = Clicked(ClickOutcome.self_like)
        else:
            counting.append(wish)
    periods = await _periods(session, counting)
    placed = [
        _Click(wish, things[wish.thing.uri].id, periods[period_of(wish.at)]) for wish in counting
    ]
    clicked.update(await _insert(session, donor_account_id, source, placed))
    return clicked
