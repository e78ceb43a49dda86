"""Polling connected accounts: one persisted job reads one page of one account's likes.

A round reads an account's likes from the newest, page by page, until it reaches a page
whose likes are all from before the running month (or the list ends, or `MAX_ROUND_PAGES`).
Reading the whole month again each round is what lets a like taken back on the network (a
favourite removed on Mastodon, a like record deleted on Bluesky) be seen as gone: at the
end of a round that covered the month, a counted like the round did not see again is
unclicked. Each page is a
job of its own; the account's row says where the round continues (`cursor`), so a crash or
a restart resumes there.

A poll first claims its account by a conditional UPDATE (active, and due): of two workers
(or two queued jobs) only one reads a page, and `bridge_like`'s unique row makes a second
click impossible even if both did. The network's answer decides the next poll:
- a page: the next page of the round follows at once while the rate limit has room, spread
  over what is left of its window when it has less than half left; after the last page, the
  next round in LIKEWISE_BRIDGE_POLL_MINUTES;
- RateLimited: the round waits `retry_after` and resumes;
- NetworkDown: exponential backoff, the round resumes;
- TokenExpired: `refresh()` and one retry; refused, the account needs re-authorization;
- TokenRevoked: the account needs re-authorization (the donor's status line says so);
- BadPayload and any other bridge error: the page counts nothing, the status line says what
  was wrong, the round starts again from the newest after a backoff.

A scheduled sweep (`bridges.sweep`, every minute) enqueues the accounts whose poll is due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.base import Credentials, LikesPage, Network, RateInfo
from bridges.errors import (
    BridgeError,
    BudgetSpent,
    NetworkDown,
    NotConfigured,
    RateLimited,
    TokenExpired,
    TokenRevoked,
)
from server.connections.credentials import context_of, seal_credentials, unseal_credentials
from server.connections.ingest import ingest_page, sweep_disappeared
from server.connections.networks import Networks
from server.connections.secrets import SealError
from server.connections.usage import Counts, add
from server.db.engine import Database
from server.domain_errors import NotFound
from server.jobs.handler import JobContext
from server.jobs.queue import ClaimedJob, enqueue
from server.models import ConnectedAccount, ConnectionState
from server.models.base import utcnow
from server.settings import Settings
from server.states import advance

POLL_JOB = "bridges.poll"
SWEEP_JOB = "bridges.sweep"
LEASE = timedelta(minutes=5)  # a claimed poll's account is not due again before this
MAX_ROUND_PAGES = 60
MAX_BACKOFF = timedelta(hours=6)
SWEEP_BATCH = 1000
log = logging.getLogger("likewise.bridges")


async def _hold_network(session: AsyncSession, network: str, until: datetime) -> None:
    """A network whose limit all accounts share: none of its accounts polls before `until`
    (a poll queued earlier finds its account not due and does nothing; the sweep queues it
    again once it is)."""
    await session.exec(
        update(ConnectedAccount)
        .where(
            col(ConnectedAccount.network) == network,
            col(ConnectedAccount.state) == ConnectionState.active,
            or_(
                col(ConnectedAccount.next_poll_at).is_(None),
                col(ConnectedAccount.next_poll_at) < until,
            ),
        )
        .values(next_poll_at=until)
    )


@dataclass(frozen=True)
class Claimed:
    """What a poll read from its account's row when it claimed it."""

    id: int
    network: str
    sealed: str
    context: str
    cursor: str
    round_started_at: datetime
    baseline: bool  # the first round: likes without a time are taken as older ones


async def _claim(db: Database, connection_id: int, now: datetime) -> Claimed | None:
    async with db.transaction() as session:
        claimed = await session.exec(
            update(ConnectedAccount)
            .where(
                col(ConnectedAccount.id) == connection_id,
                col(ConnectedAccount.state) == ConnectionState.active,
                or_(
                    col(ConnectedAccount.next_poll_at).is_(None),
                    col(ConnectedAccount.next_poll_at) <= now,
                ),
            )
            .values(next_poll_at=now + LEASE)
        )
        if claimed.rowcount != 1:
            return None
        row = await session.get(ConnectedAccount, connection_id)
        if row is None:
            return None
        if row.round_started_at is None:
            row.round_started_at, row.round_pages, row.cursor = now, 0, ""
            session.add(row)
        return Claimed(
            id=connection_id,
            network=row.network,
            sealed=row.credentials,
            context=context_of(row.account_id, row.network, row.external_id),
            cursor=row.cursor,
            round_started_at=row.round_started_at,
            baseline=row.last_checked_at is None,
        )


def spacing(rate: RateInfo | None, now: datetime) -> timedelta:
    """How long to wait before the next request of a round: none while the limit has more
    than half left; then what is left of the window spread over the requests left, so the
    remaining count never reaches zero."""
    if rate is None or rate.remaining is None or rate.reset_at is None:
        return timedelta(0)
    window = max(rate.reset_at - now, timedelta(0))
    if rate.limit is not None and rate.remaining * 2 > rate.limit:
        return timedelta(0)
    if rate.remaining <= 1:
        return window + timedelta(seconds=1)
    return window / (rate.remaining - 1)


def backoff(failures: int, settings: Settings) -> timedelta:
    first = timedelta(minutes=min(1, settings.bridge_poll_minutes))
    delay: timedelta = first * 2 ** min(max(failures - 1, 0), 20)
    return min(delay, MAX_BACKOFF)


async def _page(
    network: Network, credentials: Credentials, cursor: str
) -> tuple[LikesPage, Credentials | None]:
    """One page; an expired token is refreshed once (the new credentials come back)."""
    try:
        return await network.list_likes(credentials, cursor or None), None
    except TokenExpired:
        try:
            renewed = await network.refresh(credentials)
        except TokenExpired as exc:
            raise TokenRevoked(str(exc)) from exc
        try:
            return await network.list_likes(renewed, cursor or None), renewed
        except TokenExpired as exc:
            raise TokenRevoked(f"a refreshed token was refused too: {exc}") from exc


async def _enqueue_poll(session: AsyncSession, connection_id: int, at: datetime) -> None:
    key = f"{POLL_JOB}:{connection_id}:{at.timestamp():.3f}"
    await enqueue(session, POLL_JOB, {"connection": connection_id}, dedupe_key=key, run_after=at)


async def _locked(session: AsyncSession, claimed: Claimed) -> ConnectedAccount | None:
    """The claimed account, locked, unless it was paused, disconnected or restarted since."""
    query = select(ConnectedAccount).where(ConnectedAccount.id == claimed.id).with_for_update()
    row = (await session.exec(query.execution_options(populate_existing=True))).first()
    if row is None or row.state != ConnectionState.active:
        return None
    return row if row.round_started_at == claimed.round_started_at else None


@dataclass(frozen=True)
class PollReport:
    """What one poll did (tests and logs read it)."""

    ran: bool = False
    new: int = 0
    counted: int = 0
    unclicked: int = 0
    more: bool = False
    error: str = ""


async def _record_page(
    db: Database,
    settings: Settings,
    claimed: Claimed,
    page: LikesPage,
    renewed: Credentials | None,
    shared: bool = False,
) -> PollReport:
    now = utcnow()
    wait = spacing(page.rate, now)
    async with db.transaction() as session:
        if shared and wait > timedelta(0):
            await _hold_network(session, claimed.network, now + wait)
        requests = 2 if renewed is not None else 1
        await add(session, claimed.network, now, Counts(polls=1, requests=requests))
        row = await _locked(session, claimed)
        if row is None:
            return PollReport(ran=True)
        report = await ingest_page(
            session, settings, row, page.likes, now=now, baseline=claimed.baseline
        )
        pages = row.round_pages + 1
        more = page.next_cursor is not None and not report.older_reached
        if more and (page.next_cursor == claimed.cursor or pages >= MAX_ROUND_PAGES):
            more = False  # a page that leads to itself, or a round too long: stop it here
            covered = False
        else:
            covered = not more and not page.truncated
        unclicked = 0
        if more:
            row.cursor, row.round_pages = page.next_cursor or "", pages
            row.next_poll_at = now + wait
            await _enqueue_poll(session, row.id or 0, row.next_poll_at)
        else:
            if covered and not claimed.baseline:
                unclicked = await sweep_disappeared(session, row, claimed.round_started_at, now)
            row.cursor, row.round_pages, row.round_started_at = "", 0, None
            row.last_checked_at = now
            row.failures, row.last_error = 0, ""  # a whole round went through
            interval = timedelta(minutes=settings.bridge_poll_minutes)
            row.next_poll_at = now + max(interval, wait)
        if renewed is not None:
            row.credentials = seal_credentials(settings.secret_key, renewed, claimed.context)
        row.updated_at = now
        row.likes_counted += report.counted
        session.add(row)
    return PollReport(True, report.new, report.counted, unclicked, more)


def _failure(error: BridgeError, label: str) -> tuple[str, bool]:
    """(the donor's status line, whether the round starts again from the newest)."""
    if isinstance(error, BudgetSpent):
        return str(error), False
    if isinstance(error, RateLimited):
        return f"{label} asked us to slow down; the next check waits", False
    if isinstance(error, NetworkDown):
        return f"{label} did not answer: {error}", False
    if isinstance(error, NotConfigured):
        return f"{label} is not set up on this instance any more", True
    return f"{label} sent something we could not use: {error}", True


async def _record_failure(
    db: Database,
    settings: Settings,
    claimed: Claimed,
    error: BridgeError,
    label: str,
    shared: bool = False,
) -> PollReport:
    now = utcnow()
    async with db.transaction() as session:
        if shared and isinstance(error, RateLimited):
            until = now + timedelta(seconds=max(error.retry_after, 1.0))
            await _hold_network(session, claimed.network, until)
        limited = isinstance(error, RateLimited)
        asked = not isinstance(error, (BudgetSpent, NotConfigured))
        counts = Counts(
            polls=1, requests=int(asked), errors=int(not limited), rate_limited=int(limited)
        )
        await add(session, claimed.network, now, counts)
        row = await _locked(session, claimed)
        if row is None:
            return PollReport(ran=True, error=str(error))
        if isinstance(error, TokenRevoked):
            advance(row, ConnectionState.needs_reauth)
            row.last_error = f"{label} asked you to sign in again"
            row.next_poll_at = None
            row.cursor, row.round_pages, row.round_started_at = "", 0, None
        else:
            message, restart = _failure(error, label)
            row.last_error = message[:500]
            if isinstance(error, RateLimited):
                row.next_poll_at = now + timedelta(seconds=max(error.retry_after, 1.0))
            else:
                row.failures += 1
                row.next_poll_at = now + backoff(row.failures, settings)
            if restart:
                row.cursor, row.round_pages, row.round_started_at = "", 0, None
        row.updated_at = now
        session.add(row)
        if row.next_poll_at is not None:
            await _enqueue_poll(session, row.id or 0, row.next_poll_at)
    log.info("event=bridge_poll_failed connection=%s error=%s", claimed.id, error)
    return PollReport(ran=True, error=row.last_error)


async def poll_once(
    db: Database, settings: Settings, networks: Networks, connection_id: int
) -> PollReport:
    """Read one page of one account's likes, if the account is active and due."""
    claimed = await _claim(db, connection_id, utcnow())
    if claimed is None:
        return PollReport()
    label, shared = claimed.network, False
    try:
        network = networks.get(claimed.network)
        label, shared = network.label, network.shared_rate_limit
        credentials = unseal_credentials(settings.secret_key, claimed.sealed, claimed.context)
        page, renewed = await _page(network, credentials, claimed.cursor)
    except NotFound:
        return await _record_failure(db, settings, claimed, NotConfigured("not offered"), label)
    except SealError:
        revoked = TokenRevoked("the stored credentials do not open with this instance's key")
        return await _record_failure(db, settings, claimed, revoked, label)
    except BridgeError as error:
        return await _record_failure(db, settings, claimed, error, label, shared)
    return await _record_page(db, settings, claimed, page, renewed, shared)


async def handle_poll(context: JobContext, job: ClaimedJob) -> None:
    connection_id = job.payload.get("connection")
    if not isinstance(connection_id, int):
        return
    networks = Networks(context.settings, context.http, db=context.db)
    await poll_once(context.db, context.settings, networks, connection_id)


async def enqueue_due(db: Database, now: datetime | None = None) -> int:
    """Queue a poll for every active account whose next poll is due; returns how many."""
    at = now or utcnow()
    async with db.transaction() as session:
        due = await session.exec(
            select(ConnectedAccount.id, ConnectedAccount.next_poll_at)
            .where(
                col(ConnectedAccount.state) == ConnectionState.active,
                or_(
                    col(ConnectedAccount.next_poll_at).is_(None),
                    col(ConnectedAccount.next_poll_at) <= at,
                ),
            )
            .order_by(col(ConnectedAccount.next_poll_at))
            .limit(SWEEP_BATCH)
        )
        rows = due.all()
        for connection_id, next_poll_at in rows:
            await _enqueue_poll(session, connection_id or 0, next_poll_at or at)
    return len(rows)


async def handle_sweep(context: JobContext, job: ClaimedJob) -> None:
    await enqueue_due(context.db)


def sweep_interval(settings: Settings) -> timedelta:
    return timedelta(minutes=1)
