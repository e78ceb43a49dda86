"""Outgoing deliveries: retried with backoff, Retry-After honoured, other 4xx stop."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import context
from server.federation.delivery import DELIVERY_JOB, UNAVAILABLE_AFTER, deliver
from server.models import Actor, Job, JobState, PeerInbox
from server.models.base import utcnow
from server.social.notes import local_actor
from tests.support.accounts import make_account
from tests.support.network import Network


def _peer(network: Network, answers: list[tuple[int, dict[str, str]]]) -> list[bytes]:
    received: list[bytes] = []

    async def inbox(request: Request) -> Response:
        received.append(await request.body())
        status, headers = answers.pop(0) if answers else (202, {})
        return Response(status_code=status, headers=headers)

    network.apps["peer.test"] = Starlette(routes=[Route("/inbox", inbox, methods=["POST"])])
    return received


async def _queue(app: Starlette) -> Actor:
    account = await make_account(app, "carol")
    async with context(app).db.transaction() as session:
        carol = await local_actor(session, account.id or 0)
        await deliver(session, carol, {"id": "x", "type": "Like"}, ["http://peer.test/inbox"])
    return carol


async def _job(app: Starlette) -> Job:
    async with context(app).db.session() as session:
        job: Job = (await session.exec(select(Job).where(Job.kind == DELIVERY_JOB))).one()
    return job


async def _make_due(app: Starlette) -> None:
    """Every delivery waiting for its retry is due now."""
    async with context(app).db.transaction() as session:
        waiting = select(Job).where(Job.kind == DELIVERY_JOB, Job.state == JobState.queued)
        for job in (await session.exec(waiting)).all():
            job.run_after = utcnow()
            session.add(job)


async def test_retry_after_is_honoured_then_delivered(alpha: Starlette, network: Network) -> None:
    received = _peer(network, [(429, {"Retry-After": "120"}), (503, {})])
    carol = await _queue(alpha)
    await context(alpha).worker.drain()
    job = await _job(alpha)
    assert job.state == JobState.queued
    assert timedelta(seconds=100) < job.run_after - utcnow() <= timedelta(seconds=120)
    await _make_due(alpha)
    await context(alpha).worker.drain()  # 503 without Retry-After: the scaled schedule
    await _make_due(alpha)
    await context(alpha).worker.drain()
    assert (await _job(alpha)).state == JobState.done
    assert len(received) == 3
    assert json.loads(received[-1]) == {"id": "x", "type": "Like"}
    assert carol.key_id


async def test_a_gone_inbox_stops_at_once(alpha: Starlette, network: Network) -> None:
    received = _peer(network, [(410, {})])
    await _queue(alpha)
    await context(alpha).worker.drain()
    assert (await _job(alpha)).state == JobState.failed
    assert len(received) == 1


async def test_an_inbox_that_keeps_failing_is_marked_unavailable(
    alpha: Starlette, network: Network
) -> None:
    _peer(network, [(500, {})] * UNAVAILABLE_AFTER)
    await _queue(alpha)
    for _ in range(UNAVAILABLE_AFTER):
        await _make_due(alpha)
        await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        peer = (await session.exec(select(PeerInbox))).one()
    assert peer.unavailable and peer.failures == UNAVAILABLE_AFTER
    await _make_due(alpha)
    await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        peer = (await session.exec(select(PeerInbox))).one()
    assert not peer.unavailable and peer.last_success_at is not None


async def _inbox(app: Starlette) -> PeerInbox:
    async with context(app).db.session() as session:
        peer: PeerInbox = (await session.exec(select(PeerInbox))).one()
    return peer


async def test_a_healthy_inbox_is_written_once_a_minute_not_per_delivery(
    alpha: Starlette, network: Network
) -> None:
    # Given carol's first Like delivered to a healthy inbox
    received = _peer(network, [])
    carol = await _queue(alpha)
    await context(alpha).worker.drain()
    first = (await _inbox(alpha)).last_success_at
    assert first is not None
    # When two more are delivered within the minute
    for n in range(2):
        async with context(alpha).db.transaction() as session:
            await deliver(
                session, carol, {"id": f"y{n}", "type": "Like"}, ["http://peer.test/inbox"]
            )
        await context(alpha).worker.drain()
    # Then they are delivered, and the inbox's row is not written again
    assert len(received) == 3
    assert (await _inbox(alpha)).last_success_at == first
    # but a success more than a minute after the last one written is written
    async with context(alpha).db.transaction() as session:
        peer = (await session.exec(select(PeerInbox))).one()
        peer.last_success_at = first - timedelta(minutes=2)
        session.add(peer)
    async with context(alpha).db.transaction() as session:
        await deliver(session, carol, {"id": "z", "type": "Like"}, ["http://peer.test/inbox"])
    await context(alpha).worker.drain()
    assert (await _inbox(alpha)).last_success_at > first  # type: ignore[operator]
    # and a failure, then a success, clears the failure at once
    _peer(network, [(500, {})])
    async with context(alpha).db.transaction() as session:
        await deliver(session, carol, {"id": "w", "type": "Like"}, ["http://peer.test/inbox"])
    await context(alpha).worker.drain()
    assert (await _inbox(alpha)).failures == 1
    await _make_due(alpha)
    await context(alpha).worker.drain()
    assert (await _inbox(alpha)).failures == 0

