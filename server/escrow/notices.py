"""The monthly message to unclaimed fediverse creators: what supporters set aside for them,
when the first of it returns to the supporters (each share returns `escrow_days` after it
was set aside, so the oldest first), how to claim it, how to stop these messages.

Who: creators whose shares wait in escrow (held lines with a creator URI not on this
instance), except shares held for an active peer (settlement pays those), identities
already claimed, and actors who opted out (`server.escrow.opt_outs`). Each gets at most one
message per calendar month: a `Create` of a `Note` addressed only to them, with a
`Mention` so Mastodon notifies them (a direct message), from the instance actor, through
the delivery queue (signed, retried). The `creator_notice` row for (creator, month) is
written in the transaction that queues the delivery, whose dedupe key names them too: a
rerun, a restart or two workers at once never send twice.

The job runs after each settlement preparation (so after a month's close, once lines for
peers' unpayable creators have moved to identity escrow) and after each housekeeping run
(next month's message while money still waits).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import NoteSpec, build_create, build_note
from server.accounts.actors import instance_actor
from server.db.engine import Database
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import NotFound
from server.donations.periods import period_of
from server.escrow.opt_outs import NOTICE_PATH, is_opted_out
from server.federation.delivery import queue_delivery
from server.federation.remote import RemoteActors, RemoteError, build_client, domain_of
from server.jobs.handler import JobContext
from server.jobs.queue import ClaimedJob, enqueue
from server.models import Actor, CreatorNotice, EscrowLine, Identity, NoticeOptOut, Peer, PeerState
from server.models.base import utcnow
from server.models.notices import NoticeState
from server.models.payouts import EscrowState
from server.money.amounts import format_money
from server.settings import Settings

CREATOR_NOTICES_JOB = "notices.creators"
WAITING_PATH = "/waiting/"
MONTHS = (
    "January February March April May June July August September October November December"
).split()
log = logging.getLogger("likewise.notices")


@dataclass(frozen=True)
class WaitingCreator:
    creator_uri: str
    identity_id: int
    amount: int
    supporters: int
    returns_at: datetime  # when the oldest share goes back to its supporter


FEW_IDENTITIES = 50


def _waiting_query(*conditions: ColumnElement[bool]) -> Select[str, int, int, int, datetime]:
    """Held lines per creator, from the escrow lines alone: no join a planner could turn into
    a loop over the escrow (after a close, PostgreSQL's statistics may still be those of an
    empty month). A creator URI is a fediverse actor's: its lines have one identity."""
    active = select(Peer.domain).where(Peer.state == PeerState.active)
    return (
        sa_select(
            col(EscrowLine.creator_uri),
            func.min(EscrowLine.identity_id),
            func.sum(EscrowLine.amount),
            func.count(func.distinct(EscrowLine.donor_id)),
            func.min(EscrowLine.created_at),
        )
        .where(
            col(EscrowLine.state) == EscrowState.held.value,
            col(EscrowLine.creator_uri) != "",
            col(EscrowLine.peer_domain).not_in(active),
            *conditions,
        )
        .group_by(col(EscrowLine.creator_uri))
        .order_by(col(EscrowLine.creator_uri))
    )


async def _unclaimed_fediverse(session: AsyncSession, identity_ids: set[int]) -> set[int]:
    """Those of these identities that are fediverse actors nobody has claimed. A few are
    looked up by id; for more, every such identity is read once (linear whatever the plan:
    an id list filtered row by row was 0.25 s per 500 ids on statistics from before a
    close) and intersected here."""
    if not identity_ids:
        return set()
    query = select(Identity.id).where(
        Identity.network == "fediverse",
        col(Identity.claimed_account_id).is_(None),
        Identity.claimed_by_actor_uri == "",
    )
    if len(identity_ids) <= FEW_IDENTITIES:
        query = query.where(col(Identity.id).in_(sorted(identity_ids)))
    rows = await session.exec(query)
    return identity_ids.intersection(identity for identity in rows.all() if identity is not None)


async def _waiting(
    session: AsyncSession, settings: Settings, *conditions: ColumnElement[bool]
) -> list[WaitingCreator]:
    """Per creator (in URI order): what waits for them, from how many supporters."""
    connection = await session.connection()
    rows = (await connection.execute(_waiting_query(*conditions))).all()
    own = settings.domain.lower()
    rows = [row for row in rows if domain_of(row[0]) != own]
    eligible = await _unclaimed_fediverse(session, {int(row[1]) for row in rows})
    days = timedelta(days=settings.escrow_days)
    return [
        WaitingCreator(uri, int(identity), int(amount), int(donors), oldest + days)
        for uri, identity, amount, donors, oldest in rows
        if int(identity) in eligible
    ]


async def creators_to_tell(
    session: AsyncSession, settings: Settings, month: str
) -> list[WaitingCreator]:
    """Creators money waits for who have had no notice this month and did not opt out."""
    # NOT EXISTS, not NOT IN: an anti-join whatever the sizes (a NOT IN list too large for
    # work_mem is probed row by row on PostgreSQL).
    told = select(CreatorNotice.id).where(
        CreatorNotice.creator_uri == EscrowLine.creator_uri, CreatorNotice.month == month
    )
    opted_out = select(NoticeOptOut.id).where(NoticeOptOut.actor_uri == EscrowLine.creator_uri)
    return await _waiting(session, settings, ~told.exists(), ~opted_out.exists())


async def waiting_for_creator(
    session: AsyncSession, settings: Settings, creator_uri: str
) -> WaitingCreator | None:
    found = await _waiting(session, settings, col(EscrowLine.creator_uri) == creator_uri)
    return found[0] if found else None


# --- the message -----------------------------------------------------------------------


def date_text(moment: datetime) -> str:
    """'3 March 2027': no locale, no ambiguity between day and month."""
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def supporters_text(count: int) -> str:
    return f"{count} supporter{'' if count == 1 else 's'}"


def waiting_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}{WAITING_PATH}{token}"


def notice_paragraphs(settings: Settings, waiting: WaitingCreator, page: str) -> list[str]:
    """The message as plain paragraphs: it never says the creator collects or earns anything;
    supporters set money aside, and it returns to them unless claimed (the oldest share's
    date: newer shares return later)."""
    return [
        f"Supporters on {settings.domain} have set aside "
        f"{format_money(waiting.amount, settings)} for you ({supporters_text(waiting.supporters)}) "
        f"because they liked your posts. The first of it returns to them on "
        f"{date_text(waiting.returns_at)} unless you claim it.",
        f"How to claim it: {page}",
        'To stop these messages, reply "stop" or block this account.',
    ]


def notice_html(actor: Actor, paragraphs: list[str], page: str) -> str:
    """Mastodon's own mention markup first (so the message reads as addressed to them),
    the claim page as a link."""
    mention = (
        f'<span class="h-card" translate="no"><a href="{html.escape(actor.url or actor.uri)}" '
        f'class="u-url mention">@<span>{html.escape(actor.username)}</span></a></span>'
    )
    link = f'<a href="{html.escape(page)}">{html.escape(page)}</a>'
    parts = [html.escape(text).replace(html.escape(page), link) for text in paragraphs]
    parts[0] = f"{mention} {parts[0]}"
    return "".join(f"<p>{part}</p>" for part in parts)


def mention_name(actor: Actor) -> str:
    return f"@{actor.username}@{actor.domain}"


# --- sending ---------------------------------------------------------------------------


def delivery_key(creator_uri: str, month: str) -> str:
    digest = hashlib.sha256(creator_uri.encode()).hexdigest()[:40]
    return f"creator-notice:{month}:{digest}"


async def _record(
    session: AsyncSession, waiting: WaitingCreator, month: str, state: NoticeState
) -> str | None:
    """The (creator, month) row; its token, or None if another run wrote it first."""
    token = secrets.token_urlsafe(24)
    row = {
        "creator_uri": waiting.creator_uri,
        "month": month,
        "identity_id": waiting.identity_id,
        "token": token,
        "state": state.value,
        "amount": waiting.amount,
        "supporters": waiting.supporters,
        "returns_at": waiting.returns_at,
        "created_at": utcnow(),
    }
    result = await session.exec(insert_ignoring_duplicates(session, CreatorNotice).values(**row))
    return token if result.rowcount else None


async def _queue(
    session: AsyncSession, settings: Settings, waiting: WaitingCreator, actor: Actor, month: str
) -> bool:
    ours = await instance_actor(session, settings)
    if ours is None or await is_opted_out(session, actor.uri):
        return False
    token = await _record(session, waiting, month, NoticeState.sent)
    if token is None:
        return False
    page = waiting_url(settings, token)
    note_id = f"{settings.base_url}{NOTICE_PATH}{token}"
    mention = {"type": "Mention", "href": actor.uri, "name": mention_name(actor)}
    note = build_note(
        NoteSpec(
            id=note_id,
            attributed_to=ours.uri,
            content=notice_html(actor, notice_paragraphs(settings, waiting, page), page),
            published=utcnow(),
            to=(actor.uri,),
            url=page,
            tags=(mention,),
        )
    )
    activity = build_create(f"{note_id}/activity", ours.uri, note)
    body = json.dumps(activity, separators=(",", ":"))
    inbox = actor.inbox or actor.shared_inbox
    return await queue_delivery(session, ours, body, inbox, delivery_key(actor.uri, month))


async def notify_creators(
    db: Database, settings: Settings, remote: RemoteActors, now: datetime | None = None
) -> list[str]:
    """Queue this month's message to each creator money waits for; returns the actor URIs
    messaged now. An actor that is gone is recorded (not fetched again this month); one
    that cannot be reached now is tried again on the next run."""
    if not settings.creator_notices:
        return []
    month = period_of(now or utcnow())
    async with db.session() as session:
        waiting = await creators_to_tell(session, settings, month)
    told: list[str] = []
    unreachable: set[str] = set()  # servers that failed this run are not waited on again
    for creator in waiting:
        if domain_of(creator.creator_uri) in unreachable:
            continue
        try:
            actor: Actor | None = await remote.get_actor(creator.creator_uri)
        except RemoteError as error:
            if not error.gone:
                unreachable.add(domain_of(creator.creator_uri))
                log.info(
                    "event=creator_notice_deferred actor=%s error=%s", creator.creator_uri, error
                )
                continue
            actor = None
        async with db.transaction() as session:
            if (
                actor is None
                or actor.tombstoned_at is not None
                or not (actor.inbox or actor.shared_inbox)
            ):
                await _record(session, creator, month, NoticeState.gone)
            elif await _queue(session, settings, creator, actor, month):
                told.append(actor.uri)
    return told


async def queue_notices(session: AsyncSession, key: str) -> None:
    """Ask the worker for a notices run (once per `key`), in the caller's transaction."""
    await enqueue(session, CREATOR_NOTICES_JOB, {}, dedupe_key=f"{CREATOR_NOTICES_JOB}:{key}")


async def handle_creator_notices(context: JobContext, job: ClaimedJob) -> None:
    client = build_client(context.settings, context.http)
    remote = RemoteActors(context.db, context.settings, client)
    told = await notify_creators(context.db, context.settings, remote)
    if told:
        log.info("event=creator_notices month=%s sent=%d", period_of(utcnow()), len(told))


async def list_notices(
    session: AsyncSession, month: str | None = None, limit: int = 500
) -> list[CreatorNotice]:
    """The notices recorded (sent, or skipped as gone), newest first."""
    query = select(CreatorNotice)
    if month is not None:
        query = query.where(CreatorNotice.month == month)
    rows = await session.exec(query.order_by(col(CreatorNotice.id).desc()).limit(limit))
    return list(rows.all())


# --- the public page -------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingPage:
    notice: CreatorNotice
    handle: str
    profile_url: str
    waiting: WaitingCreator | None  # None: nothing waits any more (claimed or returned)
    opted_out: bool


async def waiting_page(session: AsyncSession, settings: Settings, token: str) -> WaitingPage:
    notice = (await session.exec(select(CreatorNotice).where(CreatorNotice.token == token))).first()
    if notice is None:
        raise NotFound("no such page")
    identity = await session.get(Identity, notice.identity_id)
    handle = (identity.handle if identity else "") or notice.creator_uri
    profile = (identity.profile_url if identity else "") or notice.creator_uri
    return WaitingPage(
        notice,
        handle,
        profile,
        await waiting_for_creator(session, settings, notice.creator_uri),
        await is_opted_out(session, notice.creator_uri),
    )
