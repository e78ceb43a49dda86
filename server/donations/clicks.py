"""Clicks: a donor's like of a thing, counted once per donor, thing and period.

Callers (web button, ActivityPub inbox, client API, bridges) pass their own session and
commit it; these functions never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.base import Creator
from bridges.bridgy import canonical_creator
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import ValidationFailed
from server.donations.periods import lock_period, open_period_for, period_of
from server.federation.origins import own_url
from server.models import Account, Actor, Click, DonorSettings, Identity, Thing
from server.models.base import utcnow
from server.models.clicks import PeriodStage, ThingKind
from server.settings import Settings

SOURCES = frozenset({"web", "activitypub", "client_api"})
SOURCE_PREFIXES = ("bridge:", "import:")
ORIGIN_NETWORKS = frozenset({"fediverse", "web"})  # external ids that are URLs


@dataclass(frozen=True)
class CreatorRef:
    network: str  # "fediverse", "bluesky", "flickr", "web", …
    external_id: str  # fediverse: the actor URI; web: the URL's origin or known identity
    handle: str = ""  # "@user@host" where known
    profile_url: str = ""


@dataclass(frozen=True)
class ThingRef:
    uri: str  # ActivityPub object id, or the canonical URL of a web thing
    creator: CreatorRef
    title: str = ""


class ClickOutcome(StrEnum):
    recorded = "recorded"
    duplicate = "duplicate"
    self_like = "self_like"
    not_a_donor = "not_a_donor"
    paused = "paused"


def check_source(source: str) -> str:
    if source in SOURCES or (source.startswith(SOURCE_PREFIXES) and ":" in source[:-1]):
        return source
    raise ValidationFailed(
        f"unknown click source {source!r}; use web, activitypub, client_api, "
        "bridge:<network> or import:<network>"
    )


def original_creator(creator: CreatorRef) -> CreatorRef:
    """A bridged copy's original: the actor Bridgy Fed serves for a Bluesky account is that
    account's DID, so a like on either side counts for the same creator and waits in the
    same escrow (bridges/bridgy.py says what this rests on)."""
    found = canonical_creator(
        Creator(creator.network, creator.external_id, creator.handle, creator.profile_url)
    )
    if found.network == creator.network and found.external_id == creator.external_id:
        return creator
    return CreatorRef(found.network, found.external_id, found.handle, found.profile_url)


async def ensure_identity(session: AsyncSession, creator: CreatorRef) -> Identity:
    """The identity row of a creator (of the original, for a bridged copy), created if new;
    a local actor's is claimed at once. A profile URL on another host than a fediverse or
    web creator's id is not kept."""
    creator = original_creator(creator)
    if not creator.network or not creator.external_id:
        raise ValidationFailed("a creator needs a network and an external id")
    profile_url = creator.profile_url
    if profile_url and creator.network in ORIGIN_NETWORKS:
        profile_url = own_url(profile_url, creator.external_id)
    values = {
        "network": creator.network,
        "external_id": creator.external_id,
        "handle": creator.handle[:255],
        "profile_url": profile_url[:2048],
        "created_at": utcnow(),
    }
    if creator.network == "fediverse":
        local = await session.exec(
            select(Actor.account_id).where(
                Actor.uri == creator.external_id, col(Actor.account_id).is_not(None)
            )
        )
        owner = local.first()
        if owner is not None:
            values.update(claimed_account_id=owner, claimed_at=utcnow())
    await session.exec(insert_ignoring_duplicates(session, Identity).values(**values))
    result = await session.exec(
        select(Identity).where(
            Identity.network == creator.network, Identity.external_id == creator.external_id
        )
    )
    identity = result.one()
    if creator.handle and not identity.handle:
        identity.handle = creator.handle[:255]
    if profile_url and not identity.profile_url:
        identity.profile_url = profile_url[:2048]
    return identity


def thing_kind(settings: Settings, thing: ThingRef) -> ThingKind:
    if urlsplit(thing.uri).netloc == settings.domain:
        return ThingKind.local_post
    if thing.creator.network == "fediverse":
        return ThingKind.activitypub
    return ThingKind.external


async def ensure_thing(session: AsyncSession, settings: Settings, thing: ThingRef) -> Thing:
    if not thing.uri or len(thing.uri) > 2048:
        raise ValidationFailed("a thing needs a URI of at most 2048 characters")
    identity = await ensure_identity(session, thing.creator)
    if identity.id is None:
        raise ValidationFailed("identity was not stored")
    values = {
        "uri": thing.uri,
        "kind": thing_kind(settings, thing).value,
        "identity_id": identity.id,
        "title": thing.title[:300],
        "created_at": utcnow(),
    }
    await session.exec(insert_ignoring_duplicates(session, Thing).values(**values))
    result = await session.exec(select(Thing).where(Thing.uri == thing.uri))
    return result.one()


async def _donor_state(
    session: AsyncSession, donor_account_id: int
) -> tuple[ClickOutcome | None, str]:
    """(refusal or None, the donor's own actor URI)."""
    account = await session.get(Account, donor_account_id)
    if account is None or account.suspended_at is not None:
        return ClickOutcome.not_a_donor, ""
    donor = await session.get(DonorSettings, donor_account_id)
    if donor is not None and donor.paused:
        return ClickOutcome.paused, ""
    actor = await session.exec(select(Actor.uri).where(Actor.account_id == donor_account_id))
    return None, actor.first() or ""


async def record_click(
    session: AsyncSession,
    settings: Settings,
    *,
    donor_account_id: int,
    thing: ThingRef,
    source: str,
    source_ref: str | None = None,
    at: datetime | None = None,
) -> ClickOutcome:
    check_source(source)
    refusal, own_actor_uri = await _donor_state(session, donor_account_id)
    if refusal is not None:
        return refusal
    stored = await ensure_thing(session, settings, thing)
    identity = await session.get(Identity, stored.identity_id)
    if identity is None:
        raise ValidationFailed("the thing's creator is missing")
    if identity.claimed_account_id == donor_account_id or (
        identity.network == "fediverse" and identity.external_id == own_actor_uri
    ):
        return ClickOutcome.self_like
    period = await open_period_for(session, at)
    statement = insert_ignoring_duplicates(session, Click).values(
        donor_id=donor_account_id,
        thing_id=stored.id,
        period=period,
        source=source,
        source_ref=source_ref,
        created_at=at or utcnow(),
    )
    result = await session.exec(statement)
    return ClickOutcome.recorded if result.rowcount == 1 else ClickOutcome.duplicate


async def remove_click(
    session: AsyncSession,
    settings: Settings,
    *,
    donor_account_id: int,
    thing_uri: str | None = None,
    source_ref: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Unclick: removes the donor's click on that thing (or from that source activity)
    in a period that has not started closing. True if a click was removed."""
    if thing_uri is None and source_ref is None:
        raise ValidationFailed("say which click to remove: thing_uri or source_ref")
    query = select(Click).where(Click.donor_id == donor_account_id)
    if source_ref is not None:
        query = query.where(Click.source_ref == source_ref)
    else:
        query = query.join(Thing, col(Thing.id) == Click.thing_id).where(Thing.uri == thing_uri)
    if at is not None:
        query = query.where(col(Click.period) <= period_of(at))
    clicks = (await session.exec(query)).all()
    removed = False
    for click in clicks:
        period = await lock_period(session, click.period, exclusive=False)
        if period.stage != PeriodStage.open:
            continue
        await session.exec(delete(Click).where(col(Click.id) == click.id))
        removed = True
    return removed


async def remove_click_by_id(session: AsyncSession, donor_account_id: int, click_id: int) -> bool:
    """Unclick by id, only the donor's own and only before the close started."""
    click = await session.get(Click, click_id)
    if click is None or click.donor_id != donor_account_id:
        return False
    period = await lock_period(session, click.period, exclusive=False)
    if period.stage != PeriodStage.open:
        return False
    await session.exec(delete(Click).where(col(Click.id) == click_id))
    return True
