"""What this instance verifies itself: an account's own actor, profile page and actor URL.
Liked before the account existed, that money reaches it when it signs up (or is created
with `likewise users create`), without a click; a web identity keyed by one of its own
URLs is the account's to claim."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.donations.clicks import CreatorRef, ThingRef
from server.donations.close import close_period
from server.models import Account, Click, EscrowLine, Identity, Thing
from server.settings import Settings
from tests.support.accounts import csrf_from, log_in, make_token, sign_up
from tests.support.instances import LiveInstance
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    fediverse_thing,
    like,
    transfers,
)

OCT = datetime(2026, 10, 10, tzinfo=UTC)
SITE = "http://likewise.test"
CAT = f"{SITE}/users/cat"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _token(app: Starlette, account_id: int) -> str:
    async with context(app).db.session() as session:
        account = await session.get_one(Account, account_id)
    return await make_token(app, account)


async def _creator_of(db: Database, uri: str) -> tuple[str, str]:
    async with db.session() as session:
        found = await session.exec(
            select(Identity.network, Identity.external_id)
            .join(Thing, col(Thing.identity_id) == col(Identity.id))
            .where(Thing.uri == uri)
        )
        network, external_id = found.one()
        return network, external_id


async def _close_all(db: Database, settings: Settings) -> None:
    """Close every month with clicks, the running one early."""
    async with db.session() as session:
        periods = sorted(set((await session.exec(select(Click.period))).all()))
    for period in periods:
        await close_period(db, settings, period, force=True)


async def test_money_liked_before_sign_up_arrives_atsign_up(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db, settings = context(app).db, context(app).settings
    # Given, before cat has an account: ann likes her profile page through the money API,
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    liked = await client.post(
        "/api/v1/likewise/likes",
        json={"uri": f"{SITE}/@cat"},
        headers=_auth(await _token(app, ann)),
    )
    assert liked.status_code == 201, liked.text
    # bob likes her actor URL with the button,
    await donor(db, settings, "bob", funds=1000, budget=400)
    await log_in(client, "bob")
    page = await client.get("/button", params={"url": CAT})
    pressed = await client.post(
        "/button/like", data={"url": CAT, "csrf_token": csrf_from(page.text)}
    )
    assert "Liked." in (await client.get(pressed.headers["location"])).text
    client.cookies.clear()
    # eve liked a post of her actor in October (as a Like from the fediverse records it),
    eve = await donor(db, settings, "eve", funds=1000, budget=500)
    await like(db, settings, eve, fediverse_thing(f"{CAT}/statuses/1", CAT), at=OCT)
    # and an importer recorded her profile page as a web identity of its own
    dan = await donor(db, settings, "dan", funds=1000, budget=600)
    page_thing = ThingRef(f"{SITE}/@cat/", CreatorRef("web", f"{SITE}/@cat/"))
    await like(db, settings, dan, page_thing, at=OCT)
    # And the months are closed: 18.00 EUR waits for cat
    # (the profile page and the actor URL are one thing: her profile)
    assert await _creator_of(db, f"{SITE}/@cat") == ("fediverse", CAT)
    async with db.session() as session:
        assert (await session.exec(select(Thing.uri).where(Thing.uri == CAT))).first() is None
    await _close_all(db, settings)
    before = {row[0] for row in await transfers(db)}
    # When cat signs up
    signed_up = await sign_up(client, "cat")
    # Then she lands on her creator page, which says what arrived
    assert signed_up.status_code == 303 and signed_up.headers["location"] == "/money/creator"
    creator = await client.get("/money/creator")
    assert (
        "Supporters had set aside 18.00 EUR for you before you signed up; "
        "it is now in your available balance." in creator.text
    )
    assert '<dd class="available">18.00 EUR</dd>' in creator.text
    received = re.findall(
        r'<tr class="received"><td>([^<]*)</td><td class="num amount">([^<]*)</td>', creator.text
    )
    assert sorted(received) == [("@cat@likewise.test", "12.00 EUR"), (f"{SITE}/@cat/", "6.00 EUR")]
    assert 'class="waiting"' not in creator.text
    # And the money moved exactly, with nothing left held and nothing to claim
    cat = int((await _account_named(db, "cat")).id or 0)
    assert await balance(db, settings, available(cat)) == 1800
    new = [row for row in await transfers(db) if row[0] not in before]
    assert sorted((row[2], row[3], row[4]) for row in new) == [
        (f"creator_available:{cat}", 600, "escrow_claim"),
        (f"creator_available:{cat}", 1200, "escrow_claim"),
    ]
    async with db.session() as session:
        assert set((await session.exec(select(EscrowLine.state))).all()) == {"claimed"}
        owners = set((await session.exec(select(Identity.claimed_account_id))).all())
    assert owners == {cat}
    claims = await client.get("/api/v1/likewise/claims", headers=_auth(await _token(app, cat)))
    assert claims.json() == []
    await assert_books_balance(db)
    # And the money API shows it available
    me = await client.get("/api/v1/likewise/me", headers=_auth(await _token(app, cat)))
    assert me.json()["creator"]["available"]["value"] == "1800"


async def _account_named(db: Database, username: str) -> Account:
    async with db.session() as session:
        return (await session.exec(select(Account).where(Account.username == username))).one()


async def test_a_sign_up_with_nothing_waiting_goes_home(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    await like(
        db,
        settings,
        ann,
        fediverse_thing(f"{SITE}/users/dan/statuses/1", f"{SITE}/users/dan"),
        at=OCT,
    )
    await close_period(db, settings, "2026-10")
    before = await transfers(db)
    signed_up = await sign_up(client, "cat")
    assert signed_up.status_code == 303 and signed_up.headers["location"] == "/"
    assert await transfers(db) == before
    assert "Set aside for you" not in (await client.get("/money/creator")).text


@pytest.mark.parametrize("url", [f"{SITE}/@cat", f"{SITE}/@cat/", CAT, f"{CAT}/"])
async def test_a_web_identity_keyed_by_an_own_url_is_the_accounts_to_claim(
    app: Starlette, client: httpx.AsyncClient, url: str
) -> None:
    # Given a web identity keyed by one of cat's URLs, with money held, and cat and dan
    # created before this instance claimed such identities by itself
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann", funds=1000, budget=700)
    await like(db, settings, ann, ThingRef(f"{url}#liked", CreatorRef("web", url)), at=OCT)
    await close_period(db, settings, "2026-10")
    cat = await donor(db, settings, "cat")
    dan = await donor(db, settings, "dan")
    cat_token, dan_token = await _token(app, cat), await _token(app, dan)
    # When cat lists what she may claim, and dan too
    listed = (await client.get("/api/v1/likewise/claims", headers=_auth(cat_token))).json()
    theirs = (await client.get("/api/v1/likewise/claims", headers=_auth(dan_token))).json()
    # Then it is cat's, not dan's
    assert [(row["network"], row["external_id"], row["waiting"]["value"]) for row in listed] == [
        ("web", url, "700")
    ]
    assert theirs == []
    identity = listed[0]["identity_id"]
    refused = await client.post(f"/api/v1/likewise/claims/{identity}", headers=_auth(dan_token))
    assert refused.status_code == 403
    assert await balance(db, settings, available(dan)) == 0
    claimed = await client.post(f"/api/v1/likewise/claims/{identity}", headers=_auth(cat_token))
    assert claimed.status_code == 200 and claimed.json()["moved"]["value"] == "700"
    assert await balance(db, settings, available(cat)) == 700
    await assert_books_balance(db)


@pytest.mark.parametrize(
    ("url", "network", "external_id"),
    [
        (f"{SITE}/@cat", "fediverse", CAT),
        (f"{SITE}/@cat/", "fediverse", CAT),
        (f"{SITE}/@cat/support", "fediverse", CAT),
        (f"{SITE}/@Cat/", "fediverse", CAT),
        (CAT, "fediverse", CAT),
        (f"{SITE}/@admin", "web", SITE),  # reserved: nobody's
        (f"{SITE}/@cat?tab=posts", "web", SITE),
        (f"{SITE}/about", "web", SITE),
        ("http://elsewhere.example/@cat", "web", "http://elsewhere.example"),
    ],
)
async def test_liking_a_profile_url_here_credits_its_actor(
    app: Starlette, client: httpx.AsyncClient, url: str, network: str, external_id: str
) -> None:
    ann = await donor(context(app).db, context(app).settings, "ann", funds=1000)
    answer = await client.post(
        "/api/v1/likewise/likes", json={"uri": url}, headers=_auth(await _token(app, ann))
    )
    assert answer.status_code == 201, answer.text
    assert await _creator_of(context(app).db, answer.json()["uri"]) == (network, external_id)


async def test_every_spelling_of_a_profile_is_one_thing_a_month(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await donor(context(app).db, context(app).settings, "ann", funds=1000)
    headers = _auth(await _token(app, ann))
    spellings = [f"{SITE}/@cat", f"{SITE}/@Cat/", f"{SITE}/users/cat", f"{SITE}/@cat/support"]
    answers = [
        await client.post("/api/v1/likewise/likes", json={"uri": url}, headers=headers)
        for url in spellings
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 200]
    assert {a.json()["uri"] for a in answers} == {f"{SITE}/@cat"}
    async with context(app).db.session() as session:
        assert len((await session.exec(select(Click.id))).all()) == 1


async def test_liking_your_own_profile_is_a_self_like(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    cat = await donor(context(app).db, context(app).settings, "cat", funds=1000)
    answer = await client.post(
        "/api/v1/likewise/likes",
        json={"uri": f"{SITE}/@cat"},
        headers=_auth(await _token(app, cat)),
    )
    assert answer.status_code == 200 and answer.json()["outcome"] == "self_like"


def _liked_in_october(instance: LiveInstance) -> None:
    """dora likes a post by cat's actor in October, before cat has an account."""

    async def run() -> None:
        settings = Settings(
            data_dir=instance.data_dir, domain=instance.domain, database_url=instance.database_url
        )
        db = Database(instance.database_url)
        try:
            actor = f"{settings.base_url}/users/cat"
            await like(db, settings, 1, fediverse_thing(f"{actor}/statuses/1", actor), at=OCT)
        finally:
            await db.dispose()

    asyncio.run(run())


def test_likewise_users_create_claims_what_waits(instances: Callable[..., LiveInstance]) -> None:
    # Given dora's like of cat's post in October, closed before cat has an account
    instance = instances(autostart=False)
    instance.cli("users", "create", "dora", "--email", "d@example.org", "--password", "pw-123456")
    instance.cli("wallet", "credit", "dora", "20.00", "--reference", "bank-1")
    _liked_in_october(instance)
    instance.cli("period", "close", "--period", "2026-10")
    # When the admin creates cat's account
    created = instance.cli(
        "users", "create", "cat", "--email", "c@example.org", "--password", "pw-123456"
    )
    # Then the command says what reached her, and the books balance
    assert "@cat received 5.00 EUR supporters had set aside before the account existed" in (
        created.stdout
    )
    assert "ledger OK" in instance.cli("ledger", "check").stdout
    again = instance.cli(
        "users", "create", "eve", "--email", "e@example.org", "--password", "pw-123456"
    )
    assert "received" not in again.stdout
