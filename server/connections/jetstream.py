"""Bluesky likes in seconds: a listener beside the worker follows Jetstream for the accounts
of active Bluesky connections (bridges/jetstream.py).

A like created becomes a click through the same ingest as a poll's page (a page of one),
so a like the poll sees later, or the stream replays after a reconnect, is no second click.
A like deleted is unclicked while its month is open, as a round that no longer sees it would.
The list of accounts is read again every `refresh` seconds and sent on the open socket when
it changed. Jetstream down: the listener retries with a growing pause, and the poll goes on
finding every like meanwhile.

The admin sets `jetstream_url` in `[bridges.bluesky]` ("off" turns it off); by default an
instance follows Bluesky's public Jetstream, except in development mode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.bluesky import JetstreamLike
from bridges.errors import BadPayload, NetworkDown
from bridges.jetstream import PUBLIC_URL, Socket, options_update, read_event, subscribe_url
from bridges.jetstream import connect as jetstream_connect
from server.connections.ingest import ingest_page, unclick_counted
from server.db.engine import Database
from server.models import BridgeLike, ConnectedAccount, ConnectionState
from server.models.base import utcnow
from server.settings import Settings

log = logging.getLogger("likewise.bridges")

NETWORK = "bluesky"
REFRESH_SECONDS = 30.0
MAX_PAUSE_SECONDS = 300.0

Connect = Callable[..., AbstractAsyncContextManager[Socket]]


def jetstream_url(settings: Settings) -> str:
    """The Jetstream this instance follows, or "" for none."""
    configured = settings.bridges.get(NETWORK, {}).get("jetstream_url", "")
    if configured == "off":
        return ""
    return configured or ("" if settings.dev else PUBLIC_URL)


async def watched(db: Database) -> list[str]:
    """The DIDs of active, switched-on Bluesky connections."""
    async with db.session() as session:
        found = await session.exec(
            select(ConnectedAccount.external_id)
            .where(
                ConnectedAccount.network == NETWORK,
                ConnectedAccount.state == ConnectionState.active,
                col(ConnectedAccount.enabled),
            )
            .distinct()
        )
        return sorted(found.all())


async def _connections(session: AsyncSession, did: str) -> list[ConnectedAccount]:
    found = await session.exec(
        select(ConnectedAccount)
        .where(
            ConnectedAccount.network == NETWORK,
            ConnectedAccount.external_id == did,
            ConnectedAccount.state == ConnectionState.active,
            col(ConnectedAccount.enabled),
        )
        .order_by(col(ConnectedAccount.id))
    )
    return list(found.all())


async def _unclick(
    session: AsyncSession, connection: ConnectedAccount, like_uri: str, now: datetime
) -> int:
    """The counted like of this month with this record, taken back: its click goes."""
    return await unclick_counted(session, connection, now, BridgeLike.like_id == like_uri)


async def take(db: Database, settings: Settings, event: JetstreamLike) -> tuple[int, int]:
    """One like created or deleted, for every connection of its account: (counted, unclicked)."""
    now = utcnow()
    counted = unclicked = 0
    async with db.transaction() as session:
        for connection in await _connections(session, event.did):
            if event.operation == "delete":
                unclicked += await _unclick(session, connection, event.like_uri, now)
                continue
            if event.like is None:  # a like of something other than a post
                continue
            report = await ingest_page(
                session, settings, connection, [event.like], now=now, baseline=False
            )
            if report.counted:
                await session.exec(
                    update(ConnectedAccount)
                    .where(col(ConnectedAccount.id) == connection.id)
                    .values(likes_counted=col(ConnectedAccount.likes_counted) + report.counted)
                )
            counted += report.counted
    return counted, unclicked


@dataclass
class Listener:
    """Follows Jetstream until `stop` is set; `cursor` is the last event's time."""

    db: Database
    settings: Settings
    url: str
    connect: Connect = jetstream_connect
    refresh: float = REFRESH_SECONDS
    cursor: int | None = None
    events: int = 0  # likes taken, created or deleted (for the logs and the tests)
    _failures: int = field(default=0, repr=False)

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("event=jetstream_start url=%s", self.url)
        while not stop.is_set():
            dids = await self._watched()
            if not dids:
                await _pause(stop, self.refresh)
                continue
            try:
                await self._follow(stop, dids)
                self._failures = 0
            except NetworkDown as error:
                self._failures += 1
                log.warning("event=jetstream_down failures=%d error=%s", self._failures, error)
            except Exception:  # the listener must outlive a database hiccup
                self._failures += 1
                log.exception("event=jetstream_failed failures=%d", self._failures)
            if self._failures:
                await _pause(stop, min(2.0**self._failures, MAX_PAUSE_SECONDS))

    async def _watched(self) -> list[str]:
        try:
            return await watched(self.db)
        except Exception:
            log.exception("event=jetstream_watch_failed")
            return []

    async def _follow(self, stop: asyncio.Event, dids: list[str]) -> None:
        agent = f"Likewise ({self.settings.base_url})"
        async with self.connect(subscribe_url(self.url, self.cursor), user_agent=agent) as socket:
            await socket.send(options_update(dids))
            self._failures = 0
            next_refresh = time.monotonic() + self.refresh
            async with aclosing(_messages(socket, stop)) as messages:
                async for message in messages:
                    if message is not None:
                        await self._handle(message)
                    if time.monotonic() < next_refresh:
                        continue
                    next_refresh = time.monotonic() + self.refresh
                    fresh = await watched(self.db)
                    if not fresh:
                        return  # nobody left to follow: close, and wait for someone
                    if fresh != dids:
                        dids = fresh
                        await socket.send(options_update(dids))

    async def _handle(self, message: str | bytes) -> None:
        try:
            event = read_event(message)
        except BadPayload as error:
            log.warning("event=jetstream_bad_event error=%s", error)
            return
        if event is None:
            return
        counted, unclicked = await take(self.db, self.settings, event)
        self.cursor, self.events = event.time_us, self.events + 1
        log.info(
            "event=jetstream_like op=%s did=%s counted=%d unclicked=%d",
            event.operation,
            event.did,
            counted,
            unclicked,
        )


async def _messages(socket: Socket, stop: asyncio.Event) -> AsyncGenerator[str | bytes | None]:
    """The socket's messages, and None once a second when it is quiet (to look at `stop` and
    the refresh); cancelling `recv` loses no message."""
    while not stop.is_set():
        try:
            yield await asyncio.wait_for(socket.recv(), timeout=1.0)
        except TimeoutError:
            yield None


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def start_listener(
    db: Database, settings: Settings, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """The listener as a task beside the worker, when the instance follows a Jetstream."""
    url = jetstream_url(settings)
    if not url:
        return None
    return asyncio.create_task(Listener(db, settings, url).run_forever(stop))
