from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.donations.budget import update_donor_settings
from server.donations.clicks import ClickOutcome, CreatorRef, ThingRef, record_click, remove_click
from server.donations.close import close_period
from server.models import Actor, Click, Identity, Thing
from server.settings import Settings
from tests.support.ledger import donor, fediverse_thing, like, web_thing

NOV = datetime(2026, 11, 10, tzinfo=UTC)
BSKY = "https://bsky.brid.gy"


async def _actor_uri(db: Database, account_id: int) -> str:
    async with db.session() as session:
        return (await session.exec(select(Actor.uri).where(Actor.account_id == account_id))).one()


async def _clicks(db: Database) -> list[tuple[int, str]]:
    async with db.session() as session:
        rows = await session.exec(select(Click))
        return sorted((c.donor_id, c.period) for c in rows)


async def test_outcomes_of_likes(db: Database, settings: Settings) -> None:
    ann = await donor(db, settings, "ann")
    bob = await donor(db, settings, "bob")
    own = fediverse_thing(f"{settings.base_url}/notes/1", await _actor_uri(db, ann))
    bobs = fediverse_thing(f"{settings.base_url}/notes/2", await _actor_uri(db, bob))
    assert await like(db, settings, ann, web_thing("https://blog.example/a"), at=NOV) == "recorded"
    assert await like(db, settings, ann, web_thing("https://blog.example/a"), at=NOV) == "duplicate"
    assert await like(db, settings, ann, own, at=NOV) == ClickOutcome.self_like
    assert await like(db, settings, ann, bobs, at=NOV) == ClickOutcome.recorded
    assert await like(db, settings, 9999, bobs, at=NOV) == ClickOutcome.not_a_donor
    async with db.transaction() as session:
        await update_donor_settings(session, settings, bob, paused=True)
    assert await like(db, settings, bob, web_thing("https://x.example/1")) == ClickOutcome.paused
    assert await _clicks(db) == [(ann, "2026-11"), (ann, "2026-11")]


async def test_unclick_before_the_close_removes_the_click(db: Database, settings: Settings) -> None:
    ann = await donor(db, settings, "ann")
    thing = web_thing("https://blog.example/a")
    await like(db, settings, ann, thing, at=NOV, source_ref="like-1")
    async with db.transaction() as session:
        assert await remove_click(session, settings, donor_account_id=ann, source_ref="like-1")
    async with db.transaction() as session:
        assert not await remove_click(session, settings, donor_account_id=ann, thing_uri=thing.uri)
    assert await _clicks(db) == []


async def test_a_forced_close_sends_later_clicks_to_the_next_period(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann", funds=1000)
    await like(db, settings, ann, web_thing("https://blog.example/a"), at=NOV)
    await close_period(db, settings, "2026-11", force=True)
    await like(db, settings, ann, web_thing("https://blog.example/b"), at=NOV)
    # An unclick after the close changes nothing
    async with db.transaction() as session:
        removed = await remove_click(
            session, settings, donor_account_id=ann, thing_uri="https://blog.example/a"
        )
    assert not removed
    assert await _clicks(db) == [(ann, "2026-11"), (ann, "2026-12")]


@pytest.mark.parametrize("source", ["", "email", "bridge:"])
async def test_unknown_sources_are_refused(db: Database, settings: Settings, source: str) -> None:
    ann = await donor(db, settings, "ann")
    with pytest.raises(ValidationFailed):
        async with db.transaction() as session:
            await record_click(
                session,
                settings,
                donor_account_id=ann,
                thing=web_thing("https://blog.example/a"),
                source=source,
            )


async def test_a_bluesky_account_liked_through_its_bridgy_fed_actor_is_one_creator(
    db: Database, settings: Settings
) -> None:
    # Given a Bluesky account, and the actor Bridgy Fed serves for it in the fediverse
    did = "did:plc:abcdefghijklmnopqrstuvwx"
    bridged = fediverse_thing("https://bsky.brid.gy/convert/ap/at://x/p/1", f"{BSKY}/ap/{did}")
    native = ThingRef(f"at://{did}/app.bsky.feed.post/3kabc", CreatorRef("bluesky", did))
    ann = await donor(db, settings, "ann")
    bob = await donor(db, settings, "bob")
    # When one donor likes the bridged post and another the original one
    assert await like(db, settings, ann, bridged, at=NOV) == ClickOutcome.recorded
    assert await like(db, settings, bob, native, at=NOV) == ClickOutcome.recorded
    # Then both clicks count for one Bluesky identity (one escrow), none for the bridge
    async with db.session() as session:
        identities = (await session.exec(select(Identity))).all()
        things = (await session.exec(select(Thing))).all()
    assert [(i.network, i.external_id) for i in identities] == [("bluesky", did)]
    assert {thing.identity_id for thing in things} == {identities[0].id}
    # And an actor elsewhere that only looks like one is its own fediverse identity
    lookalike = fediverse_thing("https://bsky.brid.gy.example/n/1", f"{BSKY}.example/ap/{did}")
    assert await like(db, settings, ann, lookalike, at=NOV) == ClickOutcome.recorded
    async with db.session() as session:
        assert len((await session.exec(select(Identity))).all()) == 2
