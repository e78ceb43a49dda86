"""Outgoing activities: one persisted job per (activity, inbox), retried on Mastodon's schedule.

Jobs live in the database, so a restart loses nothing; an inbox that keeps failing is
marked unavailable and its retries are spaced further apart until one succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import Json
from activitypub.delivery import MAX_ATTEMPTS, Verdict, classify_response, next_retry_delay
from activitypub.errors import ActivityPubError, BlockedAddress
from server.db.engine import Database
from server.federation.remote import build_client, signer_of
from server.jobs.handler import GiveUp, JobContext, RetryLater
from server.jobs.queue import ClaimedJob, enqueue
from server.models import Actor, Follow, PeerInbox
from server.models.base import utcnow
from server.models.federation import FollowState

DELIVERY_JOB = "delivery.send"
UNAVAILABLE_AFTER = 8
UNAVAILABLE_FACTOR = 4.0
# How stale a healthy inbox's last success may get before a success is written again.
HEALTHY_FOR = timedelta(minutes=1)


async def deliver(
    session: AsyncSession, actor: Actor, activity: Json, inboxes: Iterable[str]
) -> int:
    """Queue `activity` for each distinct inbox, in the caller's transaction."""
    body = json.dumps(activity, separators=(",", ":"))
    count = 0
    for inbox in dict.fromkeys(inbox for inbox in inboxes if inbox):
        await queue_delivery(session, actor, body, inbox)
        count += 1
    return count


async def queue_delivery(
    session: AsyncSession, actor: Actor, body: str, inbox: str, dedupe_key: str | None = None
) -> bool:
    """Queue one signed POST of `body` (an activity's JSON) by `actor` to `inbox`; False if
    `dedupe_key` was queued before."""
    job = await enqueue(
        session,
        DELIVERY_JOB,
        {"actor_id": actor.id, "inbox": inbox, "body": body},
        dedupe_key=dedupe_key,
        max_attempts=MAX_ATTEMPTS + 1,
    )
    return job is not None


async def follower_inboxes(session: AsyncSession, actor: Actor) -> list[str]:
    """Inboxes of accepted remote followers, shared inboxes first so fan-out dedupes."""
    query = (
        select(Actor)
        .join(Follow, col(Follow.follower_id) == col(Actor.id))
        .where(Follow.followee_id == actor.id, Follow.state == FollowState.accepted)
        .where(col(Actor.is_local).is_(False), col(Actor.tombstoned_at).is_(None))
    )
    followers = (await session.exec(query)).all()
    return list(dict.fromkeys(f.shared_inbox or f.inbox for f in followers))


async def _peer(session: AsyncSession, url: str) -> PeerInbox:
    peer = (await session.exec(select(PeerInbox).where(PeerInbox.url == url))).first()
    if peer is None:
        peer = PeerInbox(url=url)
        session.add(peer)
    return peer


async def _record_result(db: Database, url: str, ok: bool) -> bool:
    """Update the inbox's health; returns whether it is now unavailable. A success at an
    inbox known healthy, whose last success is less than HEALTHY_FOR old, writes nothing:
    a busy instance delivers to the same inboxes all day, and a write per delivery queued
    behind every favourite on SQLite's one writer."""
    if ok and await _healthy(db, url):
        return False
    async with db.transaction() as session:
        peer = await _peer(session, url)
        if ok:
            peer.failures, peer.unavailable, peer.last_success_at = 0, False, utcnow()
        else:
            peer.failures += 1
            peer.last_failure_at = utcnow()
            peer.unavailable = peer.failures >= UNAVAILABLE_AFTER
        session.add(peer)
        return peer.unavailable


async def _healthy(db: Database, url: str) -> bool:
    async with db.reading(bounded=True) as session:
        found = await session.exec(
            select(PeerInbox.failures, PeerInbox.unavailable, PeerInbox.last_success_at).where(
                PeerInbox.url == url
            )
        )
        row = found.first()
    if row is None:
        return False
    failures, unavailable, last = row
    return not failures and not unavailable and last is not None and (utcnow() - last < HEALTHY_FOR)


def _delay(context: JobContext, job: ClaimedJob, retry_after: float | None, slow: bool) -> float:
    if retry_after is not None:
        return retry_after
    base = next_retry_delay(job.attempts) or 0.0
    return base * context.settings.delivery_backoff_scale * (UNAVAILABLE_FACTOR if slow else 1.0)


async def handle_delivery(context: JobContext, job: ClaimedJob) -> None:
    inbox, body = str(job.payload["inbox"]), str(job.payload["body"]).encode()
    async with context.db.session() as session:
        actor = await session.get(Actor, int(job.payload["actor_id"]))
    if actor is None or not actor.private_key_pem:
        raise GiveUp("the sending actor is gone")
    client = build_client(context.settings, context.http)
    try:
        result = await client.post(inbox, body, signer_of(actor))
    except BlockedAddress as error:
        raise GiveUp(str(error)) from error
    except ActivityPubError as error:
        slow = await _record_result(context.db, inbox, ok=False)
        raise RetryLater(str(error), _seconds(_delay(context, job, None, slow))) from error
    outcome = classify_response(result.status, result.headers, utcnow())
    if outcome.verdict is Verdict.DELIVERED:
        await _record_result(context.db, inbox, ok=True)
        return
    if outcome.verdict is Verdict.PERMANENT:
        raise GiveUp(f"{inbox} answered {result.status}")
    slow = await _record_result(context.db, inbox, ok=False)
    delay = _delay(context, job, outcome.retry_after, slow)
    raise RetryLater(f"{inbox} answered {result.status}", _seconds(delay))


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=max(value, 0.05))
