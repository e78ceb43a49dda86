"""Liking any URL: resolve it to a thing and its creator, then record the click.

Resolvers are tried in order; the first that knows the URL wins. Who a URL belongs to is
decided by its own origin (`server.federation.origins`): a local URL names local notes and
profiles only, a remote note is found by its page URL only on its own origin, and an answer
whose thing or creator is on another origin than the URL is never taken, whichever
resolver gives it. The federation side can add one (fetch an ActivityPub object, find its
attributedTo) by passing `resolvers=`; the last resort records a web thing whose creator
is the URL's origin, unclaimed until someone proves they own it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.accounts import RESERVED_USERNAMES
from server.accounts.actors import actor_uri
from server.domain_errors import ValidationFailed
from server.donations.clicks import ClickOutcome, CreatorRef, ThingRef, record_click
from server.donations.periods import period_of
from server.federation.origins import host_of, own_url, same_host
from server.models import Actor, Click, DonorSettings, Note, Thing
from server.models.base import utcnow
from server.settings import Settings

Resolver = Callable[[AsyncSession, Settings, str], Awaitable[ThingRef | None]]


def canonical_url(url: str) -> str:
    text = url.strip()
    try:
        parts = urlsplit(text)
        usable = bool(parts.hostname) and parts.port != 0  # "https://[::1", ":x" fail here
    except ValueError:
        usable = False
    if not usable or parts.scheme not in ("http", "https") or len(text) > 2048:
        raise ValidationFailed("give an http(s) URL of at most 2048 characters", field="uri")
    if "@" in parts.netloc:
        raise ValidationFailed(
            "give the URL without a user name (someone@host): its host alone says whose page it is",
            field="uri",
        )
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


def is_local_url(settings: Settings, url: str) -> bool:
    return host_of(url) == settings.domain.lower()


async def resolve_known_note(
    session: AsyncSession, settings: Settings, url: str
) -> ThingRef | None:
    """A note this instance has, by its id or its page URL, on the URL's own origin: a local
    URL names only local notes; a remote one only notes its own origin published (what a
    note says its page is elsewhere is not stored, and not believed here either)."""
    rows = await session.exec(
        select(Note, Actor)
        .join(Actor, col(Actor.id) == Note.author_id)
        .where(
            or_(Note.uri == url, Note.url == url),
            col(Note.is_local).is_(is_local_url(settings, url)),
            col(Note.deleted_at).is_(None),
        )
        .order_by(col(Note.id))
    )
    for note, actor in rows.all():
        if same_host(note.uri, url) and same_host(actor.uri, url):
            creator = CreatorRef(
                "fediverse",
                actor.uri,
                handle=f"@{actor.username}@{actor.domain}",
                profile_url=own_url(actor.url, actor.uri),
            )
            return ThingRef(note.uri, creator, title=_title(note.content))
    return None


def _title(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())[:120]


LOCAL_PROFILE = re.compile(r"/(?:@|users/)([a-z0-9_]{1,30})(?:/support)?/?", re.IGNORECASE)


async def resolve_local_profile(
    session: AsyncSession, settings: Settings, url: str
) -> ThingRef | None:
    """A profile page or actor of this instance (`/@name`, `/@name/support`, `/users/name`):
    its creator is that account's actor, whether or not the account exists yet, so money
    liked before sign-up waits for the account (and is claimed when it is created)."""
    parts = urlsplit(url)
    match = LOCAL_PROFILE.fullmatch(parts.path)
    if parts.netloc != settings.domain.lower() or parts.query or match is None:
        return None
    name = match.group(1).lower()
    if name in RESERVED_USERNAMES:
        return None
    profile = f"{settings.base_url}/@{name}"
    creator = CreatorRef(
        "fediverse",
        actor_uri(settings, name),
        handle=f"@{name}@{settings.domain}",
        profile_url=profile,
    )
    # One thing for every spelling of the profile (/@Bob/, /users/bob, /@bob/support, http
    # or https): one like a donor and month, as for any other thing.
    return ThingRef(profile, creator)


async def resolve_web_page(session: AsyncSession, settings: Settings, url: str) -> ThingRef | None:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return ThingRef(url, CreatorRef("web", origin, handle=parts.netloc, profile_url=origin))


RESOLVERS: list[Resolver] = [resolve_known_note, resolve_local_profile, resolve_web_page]


def answers_for(url: str, thing: ThingRef) -> bool:
    """Whether the URL's own origin speaks for the thing and its creator: a fediverse or
    web creator on the URL's host, and the thing there too. Nothing else may take the
    money of a like of `url`."""
    creator = thing.creator
    return (
        creator.network in ("fediverse", "web")
        and same_host(thing.uri, url)
        and same_host(creator.external_id, url)
    )


async def resolve_thing(
    session: AsyncSession, settings: Settings, url: str, resolvers: Sequence[Resolver] = ()
) -> ThingRef:
    canonical = canonical_url(url)
    for resolver in (*resolvers, *RESOLVERS):
        found = await resolver(session, settings, canonical)
        if found is not None and answers_for(canonical, found):
            return found
    raise ValidationFailed("nothing is known about that URL", field="uri")


async def like_url(
    session: AsyncSession, settings: Settings, account_id: int, url: str, source: str = "web"
) -> tuple[ClickOutcome, ThingRef]:
    thing = await resolve_thing(session, settings, url)
    outcome = await record_click(
        session, settings, donor_account_id=account_id, thing=thing, source=source
    )
    return outcome, thing


async def clicks_on(session: AsyncSession, donor_id: int, uri: str) -> int:
    """How many clicks (all periods) this donor has on the thing at `uri`."""
    query = (
        select(func.count())
        .select_from(Click)
        .join(Thing, col(Thing.id) == col(Click.thing_id))
        .where(Click.donor_id == donor_id, Thing.uri == uri)
    )
    return int((await session.exec(query)).one())


async def like_count(session: AsyncSession, settings: Settings, url: str) -> tuple[ThingRef, int]:
    """The thing behind a URL and how many clicks it has had, all periods together."""
    thing = await resolve_thing(session, settings, url)
    count = await session.exec(
        select(func.count())
        .select_from(Click)
        .join(Thing, col(Thing.id) == Click.thing_id)
        .where(Thing.uri == thing.uri)
    )
    return thing, int(count.one())


@dataclass(frozen=True)
class DonorLike:
    """What one donor's like of one thing counts for now: a click this month (or a later
    open one), else the month of the latest earlier click; and whether the donor's budget
    is paused (a like then records nothing)."""

    this_month: bool
    last_month: str | None  # "2026-11": the latest earlier month with a click
    paused: bool
    last_month_name: str = ""  # "November", or "November 2025" in another year


async def donor_like(
    session: AsyncSession, donor_id: int, uri: str, at: datetime | None = None
) -> DonorLike:
    current = period_of(at or utcnow())
    periods = await session.exec(
        select(Click.period)
        .join(Thing, col(Thing.id) == col(Click.thing_id))
        .where(Click.donor_id == donor_id, Thing.uri == uri)
        .order_by(col(Click.period).desc())
    )
    latest = periods.first()
    settings = await session.get(DonorSettings, donor_id)
    this_month = latest is not None and latest >= current
    earlier = None if this_month else latest
    return DonorLike(
        this_month=this_month,
        last_month=earlier,
        paused=settings is not None and settings.paused,
        last_month_name=month_name(earlier, current) if earlier else "",
    )


def month_name(period: str, current: str) -> str:
    year, month = period.split("-")
    name = calendar.month_name[int(month)]
    return name if current.startswith(f"{year}-") else f"{name} {year}"


async def count_note_like(
    session: AsyncSession, settings: Settings, donor_id: int, note: Note, like_id: str
) -> ClickOutcome:
    """The click of a like of a note kept from an earlier month (or not counted when it was
    given, the budget paused): it counts for this month, under the same like activity, so
    that unliking removes it too. A like given now was clicked already: a duplicate."""
    author = await session.get(Actor, note.author_id)
    if author is None:
        return ClickOutcome.not_a_donor
    handle = f"@{author.username}@{author.domain}" if author.username else ""
    creator = CreatorRef("fediverse", author.uri, handle=handle, profile_url=author.url)
    thing = ThingRef(note.uri, creator, title=note.url)
    return await record_click(
        session, settings, donor_account_id=donor_id, thing=thing, source="web", source_ref=like_id
    )
