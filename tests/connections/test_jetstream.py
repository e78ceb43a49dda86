"""Bluesky likes through Jetstream (the fake Bluesky's `/subscribe` WebSocket on a loopback
port): a like counts in seconds without a poll, and the poll that finds it later makes no
second click; a deleted like is unclicked; a garbled event is skipped; a resumed listener
replays from its cursor without counting twice; the accounts followed change with the
connections; a Jetstream that refuses is tried again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlmodel import col, select

from server.connections.accounts import pause, resume
from server.connections.jetstream import Listener, jetstream_url, watched
from server.context import context
from server.models import BridgeLike, BridgeLikeOutcome, Click, ConnectedAccount
from server.settings import Settings
from tests.connections.conftest import Donor
from tests.connections.test_bluesky import connected
from tests.support.fakes.bluesky import FakeBluesky


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def stream(bluesky: FakeBluesky) -> dict[str, Any]:
    """What the fake Jetstream says of its subscribers, over its control API."""
    answer: dict[str, Any] = httpx.get(f"{bluesky.base}/_test/jetstream").json()
    return answer


@asynccontextmanager
async def listening(
    donor: Donor, bluesky: FakeBluesky, cursor: int | None = None
) -> AsyncIterator[Listener]:
    running = context(donor.app)
    url = f"ws://{bluesky.host}/subscribe"
    listener = Listener(running.db, running.settings, url, refresh=0.2, cursor=cursor)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run_forever(stop))
    try:
        yield listener
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def clicks(donor: Donor) -> list[tuple[str, str]]:
    async with donor.db.session() as session:
        found = await session.exec(select(Click).order_by(col(Click.id)))
        return [(c.source, c.source_ref or "") for c in found.all()]


async def outcomes(donor: Donor) -> list[tuple[str, str]]:
    async with donor.db.session() as session:
        found = await session.exec(select(BridgeLike).order_by(col(BridgeLike.id)))
        return [(row.like_id, str(row.outcome)) for row in found.all()]


async def test_a_like_counts_in_seconds_and_its_deletion_unclicks_it(
    donor: Donor, bluesky: FakeBluesky
) -> None:
    did = await connected(donor, bluesky)
    async with listening(donor, bluesky):
        await until(lambda: _wanted(bluesky, [did]))
        # When dora likes a post on Bluesky
        made = bluesky.like(did)
        # Then it is a click within seconds, with no poll
        await until(lambda: _clicks_are(donor, [("bridge:bluesky", made["uri"])]))
        # And the poll that finds the same like later makes no second click
        await donor.poll()
        assert await clicks(donor) == [("bridge:bluesky", made["uri"])]
        assert await outcomes(donor) == [(made["uri"], "counted")]
        # When she takes the like back
        assert bluesky.unlike(did, made["rkey"])
        # Then the click goes, and the row says why
        await until(lambda: _clicks_are(donor, []))
        assert await outcomes(donor) == [(made["uri"], BridgeLikeOutcome.unclicked.value)]
    async with donor.db.session() as session:
        row = (await session.exec(select(ConnectedAccount))).one()
    assert row.likes_counted == 1


async def test_a_garbled_event_is_skipped_and_a_resumed_listener_counts_nothing_twice(
    donor: Donor, bluesky: FakeBluesky
) -> None:
    did = await connected(donor, bluesky)
    bluesky.knobs.jetstream_garbage = True
    async with listening(donor, bluesky) as first:
        await until(lambda: _wanted(bluesky, [did]))
        one = bluesky.like(did)
        await until(lambda: _clicks_are(donor, [("bridge:bluesky", one["uri"])]))
    assert first.cursor is not None and first.events == 1
    # A like given while nobody listens comes with the replay from the cursor (rewound a
    # few seconds, so the first like comes again, and is no second click)
    two = bluesky.like(did)
    async with listening(donor, bluesky, cursor=first.cursor) as second:
        expected = [("bridge:bluesky", one["uri"]), ("bridge:bluesky", two["uri"])]
        await until(lambda: _clicks_are(donor, expected))
        await until(lambda: _value(second.events >= 2))
    assert second.events == 2  # both replayed, the first one counted once
    assert await clicks(donor) == expected


async def test_the_accounts_followed_change_with_the_connections(
    donor: Donor, bluesky: FakeBluesky
) -> None:
    did = await connected(donor, bluesky)
    assert await watched(donor.db) == [did]
    async with donor.db.session() as session:
        connection = (await session.exec(select(ConnectedAccount))).one()
    async with listening(donor, bluesky):
        await until(lambda: _wanted(bluesky, [did]))
        # When dora pauses the connection, the listener lets go of the stream
        await pause(donor.db, donor.account_id, int(connection.id or 0))
        await until(lambda: _value(stream(bluesky)["subscribers"] == 0))
        paused = bluesky.like(did)
        await asyncio.sleep(0.5)
        assert await clicks(donor) == []
        # When she switches it on again, it follows her account again
        await resume(donor.db, donor.account_id, int(connection.id or 0))
        await until(lambda: _wanted(bluesky, [did]))
        again = bluesky.like(did)
        await until(lambda: _clicks_are(donor, [("bridge:bluesky", again["uri"])]))
    assert paused["uri"] not in [ref for _, ref in await clicks(donor)]


async def test_a_jetstream_that_refuses_is_tried_again(donor: Donor, bluesky: FakeBluesky) -> None:
    did = await connected(donor, bluesky)
    bluesky.knobs.jetstream_down = True
    async with listening(donor, bluesky):
        await until(lambda: _value(stream(bluesky)["handshakes"] >= 1))
        bluesky.knobs.jetstream_down = False
        await until(lambda: _wanted(bluesky, [did]), timeout=20)
        made = bluesky.like(did)
        await until(lambda: _clicks_are(donor, [("bridge:bluesky", made["uri"])]))
    assert stream(bluesky)["handshakes"] >= 2


def test_the_public_jetstream_is_followed_except_in_development(settings: Settings) -> None:
    production = settings.replace(dev=False)
    assert jetstream_url(production) == "wss://jetstream2.us-east.bsky.network/subscribe"
    assert jetstream_url(production.replace(dev=True)) == ""
    own = {"bridges": {"bluesky": {"jetstream_url": "wss://jetstream.example/subscribe"}}}
    assert jetstream_url(settings.replace(extra=own)) == "wss://jetstream.example/subscribe"
    off = {"bridges": {"bluesky": {"jetstream_url": "off"}}}
    assert jetstream_url(production.replace(extra=off)) == ""


async def _wanted(bluesky: FakeBluesky, dids: list[str]) -> bool:
    return bool(stream(bluesky)["wanted"] == [dids])


async def _clicks_are(donor: Donor, expected: list[tuple[str, str]]) -> bool:
    return await clicks(donor) == expected


async def _value(value: bool) -> bool:
    return value
