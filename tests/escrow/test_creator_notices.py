"""The monthly message to an unclaimed fediverse creator, end to end in one process: a
donor on alpha likes bob's post on a fediverse server, the month closes, the worker runs,
and bob's server receives one signed direct note; opt-outs arrive through the inbox."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from activitypub.jsonld import PUBLIC_COLLECTION
from server.context import context
from server.donations.clicks import CreatorRef, ThingRef
from server.donations.close import close_period
from server.donations.housekeeping import HOUSEKEEPING_JOB, handle_housekeeping
from server.donations.periods import next_period, period_of, period_start, previous_period
from server.escrow.notices import creators_to_tell, notify_creators
from server.jobs.queue import ClaimedJob
from server.models import CreatorNotice, EscrowLine, NoticeOptOut, Peer, PeerState
from server.models.base import utcnow
from tests.support.ledger import donor, like
from tests.support.network import Network
from tests.support.remote import RemoteActor, RemoteServer, fediverse_creator

THIS_MONTH = period_of(utcnow())
LAST_MONTH = previous_period(THIS_MONTH)
ALPHA = "http://alpha.test"
INSTANCE_ACTOR = f"{ALPHA}/actor"
PAGE = re.compile(r'href="(http://alpha\.test/waiting/[\w-]+)"')


@pytest.fixture
def bob(network: Network) -> RemoteActor:
    return fediverse_creator(RemoteServer().join(network))


def _month(period: str) -> datetime:
    """A moment in the middle of `period`."""
    return period_start(period) + timedelta(days=14)


async def _liked_last_month(alpha: Starlette, bob: RemoteActor, donors: int = 1) -> None:
    db, settings = context(alpha).db, context(alpha).settings
    creator = CreatorRef("fediverse", bob.uri, "@bob@mastodon.test", f"{bob.server.base}/@bob")
    for n in range(donors):
        who = await donor(db, settings, f"ann{n}", funds=2000, budget=500)
        thing = ThingRef(bob.post_uri(1), creator)
        await like(db, settings, who, thing, at=period_start(LAST_MONTH) + timedelta(days=2))


async def _housekeeping(alpha: Starlette, slot: str) -> None:
    """One housekeeping run (as the worker's scheduled job runs it), then every job it left."""
    worker = context(alpha).worker
    job = ClaimedJob(0, HOUSEKEEPING_JOB, {"slot": slot}, 1, 1)
    await handle_housekeeping(worker.context, job)
    await worker.drain()


async def _notify(alpha: Starlette, month: str) -> list[str]:
    """The notices run as the worker runs it, with the clock in `month`."""
    state = context(alpha)
    told = await notify_creators(state.db, state.settings, state.federation.remote, _month(month))
    await state.worker.drain()
    return told


async def _send(network: Network, bob: RemoteActor, activity: dict[str, Any]) -> int:
    url = f"{ALPHA}/actor/inbox"
    body, headers = bob.signed(url, activity)
    async with network.client("alpha.test") as http:
        response = await http.post(url, content=body, headers=headers)
    return response.status_code


async def _accepted(
    alpha: Starlette, network: Network, bob: RemoteActor, *activities: dict[str, Any]
) -> None:
    """bob's activities, each signed, accepted (202) and processed by alpha's worker."""
    for activity in activities:
        assert await _send(network, bob, activity) == 202
        await context(alpha).worker.drain()


async def _instance_key(network: Network) -> tuple[str, str]:
    async with network.client("alpha.test") as http:
        response = await http.get("/actor", headers={"Accept": "application/activity+json"})
    document = response.json()
    return document["publicKey"]["id"], document["publicKey"]["publicKeyPem"]


async def _opt_outs(alpha: Starlette) -> list[tuple[str, str]]:
    async with context(alpha).db.session() as session:
        rows = await session.exec(select(NoticeOptOut.actor_uri, NoticeOptOut.via))
        return list(rows.all())


async def test_one_signed_direct_note_a_month_while_money_waits(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    # Given two donors on alpha who liked bob's post last month
    await _liked_last_month(alpha, bob, donors=2)
    # When housekeeping runs (it closes last month; the worker prepares and sends)
    await _housekeeping(alpha, "first")
    # Then bob's server received exactly one note, signed by alpha's instance actor
    notices = bob.server.notices()
    assert len(notices) == 1
    notice = notices[0]
    assert notice.path == "/users/bob/inbox"
    bob.server.check_signed_by(notice, *await _instance_key(network))
    create = notice.activity
    note = create["object"]
    assert create["actor"] == note["attributedTo"] == INSTANCE_ACTOR
    # A direct message: to bob alone, nothing public, no followers; a Mention to notify him
    assert create["to"] == note["to"] == [bob.uri]
    assert note["cc"] == [] and PUBLIC_COLLECTION not in str(create)
    assert note["tag"] == [{"type": "Mention", "href": bob.uri, "name": "@bob@mastodon.test"}]
    async with context(alpha).db.session() as session:
        line = (await session.exec(select(EscrowLine))).first()
    assert line is not None
    returns = line.created_at + timedelta(days=context(alpha).settings.escrow_days)
    text = note["content"]
    assert "Supporters on alpha.test have set aside 10.00 EUR for you (2 supporters)" in text
    first = f"The first of it returns to them on {returns.day} {returns:%B} {returns.year} unless"
    assert first in text
    assert 'reply "stop" or block this account' in text.replace("&quot;", '"')
    assert "collect" not in text.lower()
    # The link is the page that says the same
    found = PAGE.search(text)
    assert found is not None and note["url"] == found.group(1)
    async with network.client("alpha.test") as http:
        page = await http.get(found.group(1))
    assert page.status_code == 200
    assert "10.00 EUR" in page.text and "2 supporters" in page.text

    # When housekeeping runs again this month: nothing more is sent
    await _housekeeping(alpha, "second")
    assert len(bob.server.notices()) == 1
    # Next month, money still waiting: one more, with the same facts
    assert await _notify(alpha, next_period(THIS_MONTH)) == [bob.uri]
    assert await _notify(alpha, next_period(THIS_MONTH)) == []
    assert len(bob.server.notices()) == 2
    assert "10.00 EUR" in bob.server.notices()[1].activity["object"]["content"]


async def test_a_signed_block_stops_the_notices_and_its_undo_lifts_that(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    await _housekeeping(alpha, "first")
    assert len(bob.server.notices()) == 1
    # When bob blocks alpha's instance actor (signed, as Mastodon sends it)
    block = bob.block(INSTANCE_ACTOR)
    await _accepted(alpha, network, bob, block)
    # Then he is recorded as opted out, and next month nothing is sent
    assert await _opt_outs(alpha) == [(bob.uri, "block")]
    assert await _notify(alpha, next_period(THIS_MONTH)) == []
    assert len(bob.server.notices()) == 1
    # When he unblocks, the month after brings one again
    await _accepted(alpha, network, bob, bob.undo(block))
    assert await _opt_outs(alpha) == []
    assert await _notify(alpha, next_period(next_period(THIS_MONTH))) == [bob.uri]
    assert len(bob.server.notices()) == 2


async def test_a_stop_reply_to_the_notice_stops_them_for_good(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    await _housekeeping(alpha, "first")
    notice_id = bob.server.notices()[0].activity["object"]["id"]
    # A friendly reply that does not say stop changes nothing
    thanks = bob.reply(INSTANCE_ACTOR, notice_id, "Thanks, how nice!", number=8)
    await _accepted(alpha, network, bob, thanks)
    assert await _opt_outs(alpha) == []
    # "Stop" does, and a later block and unblock does not lift it
    await _accepted(alpha, network, bob, bob.reply(INSTANCE_ACTOR, notice_id, "STOP please"))
    block = bob.block(INSTANCE_ACTOR)
    await _accepted(alpha, network, bob, block, bob.undo(block))
    assert await _opt_outs(alpha) == [(bob.uri, "reply")]
    assert await _notify(alpha, next_period(THIS_MONTH)) == []
    assert len(bob.server.notices()) == 1


@pytest.mark.parametrize("by_id", [False, True], ids=["embedded", "by-id"])
async def test_a_stop_reply_while_blocking_outlasts_the_unblock(
    alpha: Starlette, network: Network, bob: RemoteActor, by_id: bool
) -> None:
    await _liked_last_month(alpha, bob)
    await _housekeeping(alpha, "first")
    notice_id = bob.server.notices()[0].activity["object"]["id"]
    # Given bob blocked alpha's instance actor and said "stop" while blocking it
    block = bob.block(INSTANCE_ACTOR)
    stop = bob.reply(INSTANCE_ACTOR, notice_id, "stop")
    await _accepted(alpha, network, bob, block, stop)
    assert await _opt_outs(alpha) == [(bob.uri, "reply")]
    # When he unblocks (the Undo embeds the Block, or names it by its id only)
    undo = bob.undo(block)
    if by_id:
        undo["object"] = block["id"]
    await _accepted(alpha, network, bob, undo)
    # Then his "stop" stands: no notice next month
    assert await _opt_outs(alpha) == [(bob.uri, "reply")]
    assert await _notify(alpha, next_period(THIS_MONTH)) == []
    assert len(bob.server.notices()) == 1


async def test_unsigned_or_forged_opt_outs_change_nothing(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    await _housekeeping(alpha, "first")
    block = bob.block(INSTANCE_ACTOR)
    url = f"{ALPHA}/actor/inbox"
    async with network.client("alpha.test") as http:
        # Unsigned
        unsigned = await http.post(
            url, json=block, headers={"Content-Type": "application/activity+json"}
        )
        # Signed by bob's key, but the body tampered with after signing
        body, headers = bob.signed(url, block)
        tampered = await http.post(url, content=body.replace(b"Block", b"Block "), headers=headers)
        # Signed by bob, but speaking for someone else
        other = {**bob.block(INSTANCE_ACTOR, 2), "actor": "http://mastodon.test/users/eve"}
        body, headers = bob.signed(url, other)
        impostor = await http.post(url, content=body, headers=headers)
    assert (unsigned.status_code, tampered.status_code, impostor.status_code) == (401, 401, 401)
    await context(alpha).worker.drain()
    assert await _opt_outs(alpha) == []
    assert await _notify(alpha, next_period(THIS_MONTH)) == [bob.uri]


async def test_a_block_of_someone_else_or_a_stop_to_someone_else_is_no_opt_out(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    await _housekeeping(alpha, "first")
    carol = f"{ALPHA}/users/carol"
    not_us = [bob.block(carol, 3), bob.reply("http://other.test/users/dan", None, "stop")]
    await _accepted(alpha, network, bob, *not_us)
    assert await _opt_outs(alpha) == []


async def test_nothing_for_gone_actors_active_peers_or_with_the_setting_off(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    state = context(alpha)
    remote = state.federation.remote
    await close_period(state.db, state.settings, LAST_MONTH)
    # With LIKEWISE_CREATOR_NOTICES off, nothing is sent
    off = state.settings.replace(creator_notices=False)
    assert await notify_creators(state.db, off, remote, _month(THIS_MONTH)) == []
    # While the creator's server is an active settlement peer, settlement pays: no notice
    async with state.db.transaction() as session:
        peer = Peer(
            domain=bob.server.host, state=PeerState.active, currency="EUR", credit_limit=1000
        )
        session.add(peer)
    async with state.db.session() as session:
        assert await creators_to_tell(session, state.settings, THIS_MONTH) == []
    async with state.db.transaction() as session:
        peer.state = PeerState.suspended
        session.add(peer)
    async with state.db.session() as session:
        waiting = await creators_to_tell(session, state.settings, THIS_MONTH)
    assert [(w.creator_uri, w.amount, w.supporters) for w in waiting] == [(bob.uri, 500, 1)]
    # An actor that is gone is recorded once and not asked again this month
    bob.server.gone.add(bob.path)
    assert await notify_creators(state.db, state.settings, remote, _month(THIS_MONTH)) == []
    async with state.db.session() as session:
        rows = (await session.exec(select(CreatorNotice.state))).all()
    assert rows == ["gone"]
    assert await notify_creators(state.db, state.settings, remote, _month(THIS_MONTH)) == []
    await state.worker.drain()
    assert bob.server.notices() == []


async def test_two_runs_at_once_send_one_notice(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    state = context(alpha)
    await close_period(state.db, state.settings, LAST_MONTH)
    remote = state.federation.remote
    await remote.get_actor(bob.uri)  # cached: the race here is the notice's, not the cache's
    now = _month(THIS_MONTH)
    runs = await asyncio.gather(
        *(notify_creators(state.db, state.settings, remote, now) for _ in range(2))
    )
    assert sorted(runs) == [[], [bob.uri]]
    await state.worker.drain()
    assert len(bob.server.notices()) == 1


async def test_a_server_that_is_down_is_asked_again_on_the_next_run(
    alpha: Starlette, network: Network, bob: RemoteActor
) -> None:
    await _liked_last_month(alpha, bob)
    state = context(alpha)
    await close_period(state.db, state.settings, LAST_MONTH)
    # Bob's server is down, and alpha has not cached his actor
    down = network.apps.pop(bob.server.host)
    assert await _notify(alpha, THIS_MONTH) == []
    async with state.db.session() as session:
        assert (await session.exec(select(CreatorNotice))).all() == []
    network.apps[bob.server.host] = down
    assert await _notify(alpha, THIS_MONTH) == [bob.uri]
    assert len(bob.server.notices()) == 1


async def test_an_unknown_page_is_404(alpha: Starlette, network: Network) -> None:
    async with network.client("alpha.test") as http:
        response = await http.get("/waiting/no-such-token")
    assert response.status_code == 404
