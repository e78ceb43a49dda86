"""What the instance endpoints tell about this instance: counts, the instance's peers, its
weekly activity, its limits and what the admin configured. Each function reads in a session
of its own.

The admin sets the instance's `description`, `contact_email` and `rules` (a list of
strings) in the data directory's config.toml; none is required."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import CompoundSelect, func, union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.models import Account, Actor, ApiToken, Note, Peer, WebSession
from server.models.base import utcnow
from server.render.instance import InstanceView, Limits, WeekActivity
from server.settings import Settings
from server.social.media import CONTENT_TYPES, MAX_ATTACHMENTS, MAX_DESCRIPTION, MAX_PIXELS
from server.social.notes import MAX_STATUS_CHARS

ACTIVE_DAYS = 30
ACTIVITY_WEEKS = 12


def _text(settings: Settings, key: str) -> str:
    value = settings.extra.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def instance_description(settings: Settings) -> str:
    return _text(settings, "description")


def instance_rules(settings: Settings) -> tuple[str, ...]:
    """The rules the admin listed in config.toml (`rules = ["…", …]`); none by default."""
    rules = settings.extra.get("rules", [])
    if not isinstance(rules, list):
        return ()
    return tuple(rule.strip() for rule in rules if isinstance(rule, str) and rule.strip())


def limits(settings: Settings) -> Limits:
    return Limits(
        max_characters=MAX_STATUS_CHARS,
        max_media_attachments=MAX_ATTACHMENTS,
        supported_mime_types=tuple(sorted(set(CONTENT_TYPES.values()))),
        image_size_limit=settings.media_max_bytes,
        image_matrix_limit=MAX_PIXELS,
        description_limit=MAX_DESCRIPTION,
    )


async def _count(session: AsyncSession, query: object) -> int:
    return int((await session.exec(query)).one())  # type: ignore[call-overload]


async def _active_accounts(session: AsyncSession, since: datetime) -> int:
    """Accounts that used the instance since `since`: a browser session, a token, a post."""
    used = union(
        select(WebSession.account_id).where(WebSession.last_seen_at >= since),
        select(ApiToken.account_id).where(col(ApiToken.last_used_at) >= since),
        select(Note.account_id).where(col(Note.is_local).is_(True), Note.published_at >= since),
    ).subquery()
    query = select(func.count(func.distinct(used.c.account_id))).where(
        used.c.account_id.is_not(None)
    )
    return await _count(session, query)


def _peer_domains() -> CompoundSelect[tuple[str]]:
    remote = select(Actor.domain).where(col(Actor.is_local).is_(False), Actor.domain != "")
    return union(remote, select(Peer.domain))


async def instance_view(db: Database, settings: Settings) -> InstanceView:
    """The counts, the first admin to contact, and the admin's settings."""
    since = utcnow() - timedelta(days=ACTIVE_DAYS)
    async with db.session() as session:
        users = await _count(session, select(func.count()).select_from(Account))
        local = (
            select(func.count())
            .select_from(Note)
            .where(col(Note.is_local).is_(True), col(Note.deleted_at).is_(None))
        )
        statuses = await _count(session, local)
        domains = await _count(
            session, select(func.count()).select_from(_peer_domains().subquery())
        )
        active = await _active_accounts(session, since)
        admin_query = select(Account).where(
            col(Account.is_admin).is_(True), col(Account.suspended_at).is_(None)
        )
        admin = (await session.exec(admin_query.order_by(col(Account.id)).limit(1))).first()
    return InstanceView(
        user_count=users,
        status_count=statuses,
        domain_count=domains,
        active_month=active,
        contact=admin,
        contact_email=_text(settings, "contact_email"),
        description=_text(settings, "description"),
        rules=instance_rules(settings),
        limits=limits(settings),
    )


async def peers(db: Database) -> list[str]:
    """Every instance this one knows: remote actors' hosts and settlement peers."""
    async with db.session() as session:
        found = (await session.exec(_peer_domains())).all()  # type: ignore[call-overload]
    return sorted({str(row[0]) for row in found})


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week `moment` falls in."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _by_week(moments: Iterable[datetime | None]) -> Counter[datetime]:
    return Counter(week_start(moment) for moment in moments if moment is not None)


async def activity(db: Database) -> list[WeekActivity]:
    """The last twelve weeks, this week first: local statuses, log-ins (browser sessions
    started) and sign-ups per week."""
    this_week = week_start(utcnow())
    since = this_week - timedelta(weeks=ACTIVITY_WEEKS - 1)
    async with db.session() as session:
        posted = await session.exec(
            select(Note.published_at).where(
                col(Note.is_local).is_(True), Note.published_at >= since
            )
        )
        statuses = _by_week(posted.all())
        logins_query = select(WebSession.account_id, WebSession.created_at).where(
            WebSession.created_at >= since
        )
        sessions = (await session.exec(logins_query)).all()
        # A log-in counts once per account and week, as Mastodon counts them.
        logins = Counter(week for _, week in {(a, week_start(at)) for a, at in sessions})
        joined = await session.exec(select(Account.created_at).where(Account.created_at >= since))
        registrations = _by_week(joined.all())
    weeks = [this_week - timedelta(weeks=back) for back in range(ACTIVITY_WEEKS)]
    return [WeekActivity(week, statuses[week], logins[week], registrations[week]) for week in weeks]
