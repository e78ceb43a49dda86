"""A processing job that crashes leaves nothing behind and runs again, once."""

from __future__ import annotations

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.federation import processing as federation
from server.federation.processing import Received
from server.models import InboxItem, Job, NoteLike, NoteShare
from server.models.base import utcnow
from tests.support.inbox import INBOX, post_note, send
from tests.support.network import Network
from tests.support.remote import RemoteActor


async def test_a_crash_mid_batch_is_rolled_back_and_retried(
    alpha: Starlette, network: Network, mastodon: RemoteActor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Like and an Announce stored in the inbox
    status = await post_note(alpha, network)
    await send(network, *mastodon.signed(INBOX, mastodon.like(status["uri"])))
    announce = {**mastodon.like(status["uri"], 2), "type": "Announce"}
    await send(network, *mastodon.signed(INBOX, announce))
    calls = 0
    original = federation.HANDLERS["Announce"]

    async def crashing(received: Received) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("worker died here")
        await original(received)

    monkeypatch.setitem(federation.HANDLERS, "Announce", crashing)
    # When the Announce's run crashes
    await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(NoteShare))).all() == []
        states = {item.type: item.state for item in (await session.exec(select(InboxItem))).all()}
    assert states == {"Like": "done", "Announce": "pending"}
    # Then the retry handles it, and nothing runs twice
    async with context(alpha).db.transaction() as session:
        for job in (await session.exec(select(Job).where(Job.state == "queued"))).all():
            job.run_after = utcnow()
            session.add(job)
    await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        assert len((await session.exec(select(NoteLike))).all()) == 1
        assert len((await session.exec(select(NoteShare))).all()) == 1
        states = {item.type: item.state for item in (await session.exec(select(InboxItem))).all()}
    assert states == {"Like": "done", "Announce": "done"}
    assert calls == 2
