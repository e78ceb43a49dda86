"""A donor connects a Bluesky account by handle and proof (the fake Bluesky on a loopback
port: AppView, PDS and PLC directory); like records there become clicks, a like from before
the month is shown and not charged, a deleted like record is an unclick."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from server.context import context
from server.models import BridgeLike, BridgeLikeOutcome, Click, ConnectedAccount, ConnectionState
from server.models.base import utcnow
from tests.connections.conftest import Donor
from tests.support.accounts import csrf_from
from tests.support.fakes.bluesky import FakeBluesky

CODE = re.compile(r"likewise-[0-9a-f]+")


async def start(donor: Donor, handle: str) -> httpx.Response:
    page = await donor.web.get("/settings/connections")
    assert "Connect Bluesky" in page.text
    answer = await donor.web.post(
        "/settings/connections/connect",
        data={"network": "bluesky", "handle": handle, "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/settings/connections/bluesky/proof?state=")
    proof = await donor.web.get(location)
    assert proof.status_code == 200
    return proof


async def check(donor: Donor, proof: httpx.Response) -> httpx.Response:
    state = re.search(r'name="state" value="([^"]+)"', proof.text)
    assert state is not None
    return await donor.web.post(
        "/settings/connections/bluesky/callback",
        data={"state": state.group(1), "csrf_token": csrf_from(proof.text)},
    )


async def connected(donor: Donor, bluesky: FakeBluesky, handle: str = "dora.test") -> str:
    did = bluesky.add_account(handle)
    proof = await start(donor, handle)
    code = CODE.search(proof.text)
    assert code is not None
    bluesky.set_description(did, f"Photographer. {code.group(0)}")
    done = await check(donor, proof)
    assert done.status_code == 303, done.text
    await context(donor.app).worker.drain()
    return did


async def rows(donor: Donor) -> tuple[list[Click], list[BridgeLike]]:
    async with donor.db.session() as session:
        clicks = (await session.exec(select(Click).order_by(col(Click.id)))).all()
        likes = (await session.exec(select(BridgeLike).order_by(col(BridgeLike.id)))).all()
    return list(clicks), list(likes)


async def test_connect_by_proof_and_likes_become_clicks(donor: Donor, bluesky: FakeBluesky) -> None:
    # Given a like given this month, before connecting
    did = bluesky.add_account("dora.test")
    early = bluesky.like(did)
    await connected(donor, bluesky)
    async with donor.db.session() as session:
        row = (await session.exec(select(ConnectedAccount))).one()
    assert (row.network, row.external_id, row.state) == ("bluesky", did, ConnectionState.active)
    # When another like is given and the account is polled
    later = bluesky.like(did)
    await donor.poll()
    # Then both are clicks of the subject posts, with the like record as source_ref
    clicks, likes = await rows(donor)
    assert sorted((c.source, c.source_ref) for c in clicks) == sorted(
        [("bridge:bluesky", early["uri"]), ("bridge:bluesky", later["uri"])]
    )
    assert {like.item_url for like in likes} == {early["subject"], later["subject"]}
    page = await donor.web.get("/settings/connections")
    assert "2 likes this month" in page.text


async def test_a_like_from_before_the_month_is_shown_not_charged(
    donor: Donor, bluesky: FakeBluesky
) -> None:
    did = await connected(donor, bluesky)
    old = (utcnow() - timedelta(days=62)).isoformat(timespec="milliseconds")
    bluesky.like(did, created_at=old)
    await donor.poll()
    clicks, likes = await rows(donor)
    assert clicks == []
    assert [like.outcome for like in likes] == [BridgeLikeOutcome.before_period]
    assert "not charged" in (await donor.web.get("/settings/connections")).text


async def test_a_deleted_like_record_is_an_unclick(donor: Donor, bluesky: FakeBluesky) -> None:
    did = await connected(donor, bluesky)
    kept, deleted = bluesky.like(did), bluesky.like(did)
    await donor.poll()
    assert len((await rows(donor))[0]) == 2
    bluesky.unlike(did, deleted["rkey"])
    await donor.poll()
    clicks, likes = await rows(donor)
    assert [c.source_ref for c in clicks] == [kept["uri"]]
    outcomes = {like.like_id: like.outcome for like in likes}
    assert outcomes[deleted["uri"]] == BridgeLikeOutcome.unclicked


async def test_a_proof_not_found_connects_nothing(donor: Donor, bluesky: FakeBluesky) -> None:
    bluesky.add_account("dora.test")
    proof = await start(donor, "dora.test")
    refused = await check(donor, proof)
    assert refused.status_code == 422
    assert "did not connect" in refused.text
    async with donor.db.session() as session:
        assert (await session.exec(select(ConnectedAccount))).first() is None


@pytest.mark.parametrize(
    "knob", ["missing_subject", "path_trick", "wrong_repo", "malformed_json", "oversized"]
)
async def test_hostile_records_give_a_status_line_and_no_click(
    donor: Donor, bluesky: FakeBluesky, knob: str
) -> None:
    did = await connected(donor, bluesky)
    bluesky.like(did)
    setattr(bluesky.knobs, knob, True)
    await donor.poll()
    clicks, _ = await rows(donor)
    assert clicks == []
    async with donor.db.session() as session:
        row = (await session.exec(select(ConnectedAccount))).one()
    assert row.last_error.startswith("Bluesky sent something we could not use")
    page = await donor.web.get("/settings/connections")
    assert page.status_code == 200 and "could not use" in page.text


async def test_accounts_share_bluesky_s_rate_limit(donor: Donor, bluesky: FakeBluesky) -> None:
    # Given two Bluesky accounts connected, each with a new like, and one request left in
    # Bluesky's window (its limit is one budget for every account this instance reads)
    first = await connected(donor, bluesky, "dora.test")
    second = await connected(donor, bluesky, "dora-photos.test")
    bluesky.like(first)
    bluesky.like(second)
    bluesky.knobs.rate_limit = bluesky._used + 1
    # When both are due and polled, one after the other
    await donor.poll()
    # Then the first reads its page, and the second waits for the window instead of
    # spending a request Bluesky would refuse
    assert (bluesky.rate_limited, bluesky.over_limit) == (0, 0)
    async with donor.db.session() as session:
        accounts = (await session.exec(select(ConnectedAccount))).all()
    waits = [row.next_poll_at for row in accounts]
    assert len(waits) == 2 and all(
        at is not None and at > utcnow() + timedelta(seconds=60) for at in waits
    )
    clicks, _ = await rows(donor)
    assert len(clicks) == 1
