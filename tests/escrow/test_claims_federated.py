"""A creator claims what supporters set aside for her Mastodon account elsewhere: its
profile field links to her profile here, her profile links back with rel="me", and the
money held for the account's instance moves to her available balance. What is not
proved changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.donations.close import close_period
from server.models import Account, Click, EscrowLine, Identity, LedgerKind, TransferKind
from server.money.ledger import Owner
from server.settlement.outgoing import rehome_to_identity
from tests.support.accounts import csrf_from, make_token, sign_up
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    fediverse_thing,
    like,
    transfers,
)
from tests.support.mastodon import FakeMastodonServer, field_link, mention
from tests.support.network import Network

ALPHA = "http://alpha.test"
BOB = "http://mastodon.test/users/bob"
PEER_ESCROW = Owner(LedgerKind.escrow_peer, peer_domain="mastodon.test")


@pytest.fixture
def fake(network: Network) -> FakeMastodonServer:
    server = FakeMastodonServer("mastodon.test")
    server.add("bob")
    network.apps[server.host] = server.app()
    return server


@pytest.fixture
async def browser(alpha: Starlette, network: Network) -> AsyncIterator[httpx.AsyncClient]:
    async with network.client("alpha.test") as client:
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _token_of(app: Starlette, username: str, scopes: str = "read write") -> str:
    async with context(app).db.session() as session:
        account = (await session.exec(select(Account).where(Account.username == username))).one()
    return await make_token(app, account, scopes)


async def _liked_and_closed(app: Starlette, network: Network, fake: FakeMastodonServer) -> None:
    """ann (3.00 EUR a month) and dan (6.00) like bob's post through the money API; the
    month is closed early: 9.00 EUR waits, held for bob's instance."""
    db, settings = context(app).db, context(app).settings
    for name, budget in (("ann", 300), ("dan", 600)):
        await donor(db, settings, name, funds=1000, budget=budget)
        async with network.client("alpha.test") as api:
            liked = await api.post(
                "/api/v1/likewise/likes",
                json={"uri": fake.post("bob")},
                headers=_auth(await _token_of(app, name)),
            )
        assert liked.status_code == 201, liked.text
    async with db.session() as session:
        period = (await session.exec(select(Click.period))).first()
    assert period is not None
    await close_period(db, settings, period, force=True)
    assert await _lines(app) == [
        ("held", "mastodon.test", BOB, 300),
        ("held", "mastodon.test", BOB, 600),
    ]


async def _lines(app: Starlette) -> list[tuple[str, str, str, int]]:
    async with context(app).db.session() as session:
        rows = await session.exec(
            select(
                EscrowLine.state, EscrowLine.peer_domain, EscrowLine.creator_uri, EscrowLine.amount
            ).order_by(col(EscrowLine.amount))
        )
        return [(state, peer, creator, amount) for state, peer, creator, amount in rows.all()]


async def _claimed_by(app: Starlette, uri: str = BOB) -> int | None:
    async with context(app).db.session() as session:
        row = await session.exec(
            select(Identity.claimed_account_id).where(Identity.external_id == uri)
        )
        owner: int | None = row.first()
        return owner


async def _account_id(app: Starlette, username: str) -> int:
    async with context(app).db.session() as session:
        found = await session.exec(select(Account.id).where(Account.username == username))
        return int(found.one() or 0)


@pytest.mark.parametrize(
    ("via", "named"),
    [
        ("api", "@bob@mastodon.test"),
        ("api", "http://mastodon.test/@bob"),
        ("web", "bob@mastodon.test"),
        ("web", BOB),
    ],
)
async def test_a_creator_claims_her_mastodon_account_by_links_both_ways(
    alpha: Starlette,
    network: Network,
    fake: FakeMastodonServer,
    browser: httpx.AsyncClient,
    via: str,
    named: str,
) -> None:
    # Given 9.00 EUR held for bob's Mastodon account, and cat signed up here
    await _liked_and_closed(alpha, network, fake)
    assert (await sign_up(browser, "cat")).headers["location"] == "/"
    cat = await _account_id(alpha, "cat")
    # And bob's profile has a field linking to cat's profile here
    fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@cat")))
    # When cat claims the account
    if via == "api":
        token = await _token_of(alpha, "cat")
        answer = await browser.post(
            "/api/v1/likewise/claims", json={"actor": named}, headers=_auth(token)
        )
        again = await browser.post(
            "/api/v1/likewise/claims", json={"actor": named}, headers=_auth(token)
        )
        # Then the answer says what moved and to which identity, and a repeat moves nothing
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body == {
            "outcome": "claimed",
            "identity_id": body["identity_id"],
            "moved": {"value": "900", "currency": "EUR", "scale": 2},
            "available": {"value": "900", "currency": "EUR", "scale": 2},
            "network": "fediverse",
            "external_id": BOB,
            "handle": "@bob@mastodon.test",
            "profile_url": "http://mastodon.test/@bob",
        }
        assert again.status_code == 200
        assert again.json()["outcome"] == "already_claimed"
        assert again.json()["moved"]["value"] == "0"
    else:
        page = await browser.get("/money/creator")
        assert f'<code class="profile-url">{ALPHA}/@cat</code>' in page.text
        sent = await browser.post(
            "/money/claims", data={"actor": named, "csrf_token": csrf_from(page.text)}
        )
        # Then she is sent back to her page, which shows the money as hers
        assert sent.status_code == 303 and sent.headers["location"] == "/money/creator"
        after = await browser.get("/money/creator")
        assert "Claimed 9.00 EUR; it is now in your available balance." in after.text
        assert 'rel="me"' in after.text
        assert '<dd class="available">9.00 EUR</dd>' in after.text
        assert (
            '<tr class="received"><td>@bob@mastodon.test</td><td class="num amount">9.00 EUR</td>'
            in after.text
        )
    # And her public profile links back to bob with rel="me"
    profile = await browser.get("/@cat")
    assert '<a rel="me" href="http://mastodon.test/@bob">@bob@mastodon.test</a>' in profile.text
    # And so does her actor, in a profile field, which bob's server got in one Update of it
    field = {
        "type": "PropertyValue",
        "name": "@bob@mastodon.test",
        "value": '<a href="http://mastodon.test/@bob" rel="me">http://mastodon.test/@bob</a>',
    }
    document = await browser.get("/users/cat", headers={"Accept": "application/activity+json"})
    assert field in document.json()["attachment"]
    await context(alpha).worker.drain()
    updates = [item for item in fake.activities() if item["type"] == "Update"]
    assert [(item["actor"], item["object"]["id"]) for item in updates] == [
        (f"{ALPHA}/users/cat", f"{ALPHA}/users/cat")
    ]
    assert field in updates[0]["object"]["attachment"]
    assert "@context" not in updates[0]["object"]
    assert {"PropertyValue": "schema:PropertyValue"}.items() <= updates[0]["@context"][-1].items()
    # And the exact amount moved, once, from the escrow held for bob's instance
    db, settings = context(alpha).db, context(alpha).settings
    assert await balance(db, settings, available(cat)) == 900
    assert await balance(db, settings, PEER_ESCROW) == 0
    assert await _lines(alpha) == [
        ("claimed", "mastodon.test", BOB, 300),
        ("claimed", "mastodon.test", BOB, 600),
    ]
    assert await _claimed_by(alpha) == cat
    claims = [row for row in await transfers(db) if row[4] == "escrow_claim"]
    assert [row[1:5] for row in claims] == [
        ("escrow_peer:mastodon.test", f"creator_available:{cat}", 900, "escrow_claim")
    ]
    await assert_books_balance(db)


async def test_later_shares_go_straight_to_the_claimant(
    alpha: Starlette, network: Network, fake: FakeMastodonServer, browser: httpx.AsyncClient
) -> None:
    # Given bob's shares of August moved to his identity escrow (his instance does not
    # settle) and September's still held for his instance
    db, settings = context(alpha).db, context(alpha).settings
    ann = await donor(db, settings, "ann", funds=5000, budget=400)
    for month in (8, 9, 10):
        at = datetime(2026, month, 5, tzinfo=UTC)
        await like(db, settings, ann, fediverse_thing(fake.post("bob"), BOB), at=at)
    await close_period(db, settings, "2026-08")
    await close_period(db, settings, "2026-09")
    async with db.transaction() as session:
        august = await session.exec(select(EscrowLine).where(EscrowLine.period == "2026-08"))
        await rehome_to_identity(
            session, settings, "mastodon.test", august.all(), TransferKind.not_payable
        )
    # When cat signs up and claims bob's account
    await sign_up(browser, "cat")
    cat = await _account_id(alpha, "cat")
    fake.add("bob", ("Also me", field_link(f"{ALPHA}/users/cat")))
    answer = await browser.post(
        "/api/v1/likewise/claims",
        json={"actor": "@bob@mastodon.test"},
        headers=_auth(await _token_of(alpha, "cat")),
    )
    # Then both move: one transfer from each escrow
    assert answer.status_code == 200, answer.text
    assert answer.json()["moved"]["value"] == "800"
    claims = sorted(row[1:4] for row in await transfers(db) if row[4] == "escrow_claim")
    identity = answer.json()["identity_id"]
    assert claims == [
        (f"escrow_identity:{identity}", f"creator_available:{cat}", 400),
        ("escrow_peer:mastodon.test", f"creator_available:{cat}", 400),
    ]
    # And October's close pays bob's share to cat directly, with nothing held
    await close_period(db, settings, "2026-10")
    assert await balance(db, settings, available(cat)) == 1200
    async with db.session() as session:
        held = await session.exec(select(EscrowLine).where(EscrowLine.period == "2026-10"))
        assert held.all() == []
    await assert_books_balance(db)


async def test_lines_in_a_settlement_wait_and_are_claimed_when_they_come_back(
    alpha: Starlette, network: Network, fake: FakeMastodonServer, browser: httpx.AsyncClient
) -> None:
    # Given 9.00 EUR for bob, 3.00 of it offered to his instance in a settlement batch
    await _liked_and_closed(alpha, network, fake)
    db, settings = context(alpha).db, context(alpha).settings
    escrow = EscrowLine.__table__  # type: ignore[attr-defined]
    async with db.transaction() as session:
        await session.exec(update(escrow).where(escrow.c.amount == 300).values(state="offered"))
    await sign_up(browser, "cat")
    cat = await _account_id(alpha, "cat")
    token = await _token_of(alpha, "cat")
    fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@cat")))
    # When cat claims bob's account
    first = await browser.post("/api/v1/likewise/claims", json={"actor": BOB}, headers=_auth(token))
    # Then only the held 6.00 moves; the offered line stays with the settlement
    assert first.json()["moved"]["value"] == "600"
    assert await _lines(alpha) == [
        ("offered", "mastodon.test", BOB, 300),
        ("claimed", "mastodon.test", BOB, 600),
    ]
    # When the instance refuses the batch and the line comes back to bob's identity escrow
    async with db.transaction() as session:
        offered = await session.exec(select(EscrowLine).where(EscrowLine.state == "offered"))
        await rehome_to_identity(
            session, settings, "mastodon.test", offered.all(), TransferKind.settlement_rejected
        )
    # Then cat sees it waiting for bob's account, and claims it with one click
    listed = (await browser.get("/api/v1/likewise/claims", headers=_auth(token))).json()
    identity = first.json()["identity_id"]
    assert [(row["identity_id"], row["waiting"]["value"], row["claimed"]) for row in listed] == [
        (identity, "300", True)
    ]
    second = await browser.post(f"/api/v1/likewise/claims/{identity}", headers=_auth(token))
    assert second.status_code == 200 and second.json()["moved"]["value"] == "300"
    assert await balance(db, settings, available(cat)) == 900
    assert (await browser.get("/api/v1/likewise/claims", headers=_auth(token))).json() == []
    await assert_books_balance(db)


FAILURES: dict[str, tuple[Any, int, str, str]] = {
    # case: (what cat names, status, code, a piece of the message)
    "no_link": ("@bob@mastodon.test", 403, "link_missing", f"whose value is just {ALPHA}/@cat"),
    "link_to_another_account": (
        "@bob@mastodon.test",
        403,
        "link_missing",
        f"links to {ALPHA}/@dan instead",
    ),
    "a_mention_is_no_claim": (
        "@bob@mastodon.test",
        403,
        "link_missing",
        "does not link to your profile",
    ),
    "claimed_by_another": (
        "@bob@mastodon.test",
        409,
        "conflict",
        "already claimed by another account",
    ),
    "unknown_actor": ("@nobody@mastodon.test", 404, "not_found", "could not be found"),
    "unknown_server": ("@bob@nowhere.test", 404, "not_found", "could not be found"),
    "gone_actor_url": (
        "http://mastodon.test/users/nobody",
        404,
        "not_found",
        "could not be fetched",
    ),
    "a_post_is_no_account": (None, 422, "validation_failed", "is not a fediverse account"),
    "not_a_handle": ("bob at mastodon", 422, "validation_failed", "@user@host"),
    "another_local_account": (
        "@dan@alpha.test",
        403,
        "forbidden",
        "another account of this instance",
    ),
    "her_own_local_account": (f"{ALPHA}/@cat", 422, "validation_failed", "your own account here"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
async def test_claims_without_proof_change_nothing(
    alpha: Starlette,
    network: Network,
    fake: FakeMastodonServer,
    browser: httpx.AsyncClient,
    case: str,
) -> None:
    # Given 9.00 EUR held for bob, and cat signed up here
    await _liked_and_closed(alpha, network, fake)
    await sign_up(browser, "cat")
    cat = await _account_id(alpha, "cat")
    dan = await _account_id(alpha, "dan")
    named, status, code, message = FAILURES[case]
    named = named or fake.post("bob")
    if case == "link_to_another_account":
        fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@dan")))
    elif case == "a_mention_is_no_claim":
        fake.add("bob", ("Partner", mention(f"{ALPHA}/@cat", "cat")))
    elif case == "claimed_by_another":  # bob's profile linked to dan first, and dan claimed it
        fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@dan")))
        taken = await browser.post(
            "/api/v1/likewise/claims",
            json={"actor": named},
            headers=_auth(await _token_of(alpha, "dan")),
        )
        assert taken.status_code == 200, taken.text
        fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@cat")))
    before = (await transfers(context(alpha).db), await _lines(alpha), await _claimed_by(alpha))
    # When cat claims through the API and through the form
    answer = await browser.post(
        "/api/v1/likewise/claims",
        json={"actor": named},
        headers=_auth(await _token_of(alpha, "cat")),
    )
    page = await browser.get("/money/creator")
    form = await browser.post(
        "/money/claims", data={"actor": named, "csrf_token": csrf_from(page.text)}
    )
    # Then both refuse alike, saying why, and nothing changed
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and answer.json()["field"] == "actor"
    assert message in answer.json()["error"]
    assert form.status_code == status
    assert 'role="alert"' in form.text and 'aria-invalid="true"' in form.text
    assert (
        await transfers(context(alpha).db),
        await _lines(alpha),
        await _claimed_by(alpha),
    ) == before
    assert await _claimed_by(alpha) in ((dan,) if case == "claimed_by_another" else (None,))
    assert await balance(context(alpha).db, context(alpha).settings, available(cat)) == 0
    assert 'rel="me"' not in (await browser.get("/@cat")).text
    await assert_books_balance(context(alpha).db)


@pytest.mark.parametrize(
    ("body", "scopes", "status", "code"),
    [
        ({"actor": 42}, "read write", 422, "validation_failed"),
        ({"actor": "  "}, "read write", 422, "validation_failed"),
        ({"actor": "https://[::1/unclosed"}, "read write", 422, "validation_failed"),
        ({"actor": "http://[zz]/x"}, "read write", 422, "validation_failed"),
        ({}, "read write", 422, "validation_failed"),
        (["@bob@mastodon.test"], "read write", 400, "bad_request"),
        ({"actor": "@bob@mastodon.test"}, "read", 403, "forbidden"),
    ],
)
async def test_malformed_claim_requests_are_refused(
    alpha: Starlette,
    network: Network,
    fake: FakeMastodonServer,
    browser: httpx.AsyncClient,
    body: object,
    scopes: str,
    status: int,
    code: str,
) -> None:
    await _liked_and_closed(alpha, network, fake)
    await sign_up(browser, "cat")
    fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@cat")))
    before = await transfers(context(alpha).db)
    token = await _token_of(alpha, "cat", scopes)
    answer = await browser.post("/api/v1/likewise/claims", json=body, headers=_auth(token))
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert await transfers(context(alpha).db) == before
    assert await _claimed_by(alpha) is None


async def test_an_account_claimed_before_anything_waits_takes_later_shares(
    alpha: Starlette, network: Network, fake: FakeMastodonServer, browser: httpx.AsyncClient
) -> None:
    # Given cat signed up, and bob's profile linking to hers, with nothing liked yet
    await sign_up(browser, "cat")
    cat = await _account_id(alpha, "cat")
    fake.add("bob", ("Likewise", field_link(f"{ALPHA}/@cat")))
    # When she claims bob's account on her page
    page = await browser.get("/money/creator")
    sent = await browser.post(
        "/money/claims", data={"actor": "@bob@mastodon.test", "csrf_token": csrf_from(page.text)}
    )
    # Then the page says the account is hers, with nothing waiting yet
    assert sent.status_code == 303
    after = (await browser.get("/money/creator")).text
    assert "@bob@mastodon.test is yours here now. Nothing was waiting for it yet" in after
    assert '<span class="linked">@bob@mastodon.test</span>' in after
    # And when ann likes bob's post and the month closes, her share goes straight to cat
    db, settings = context(alpha).db, context(alpha).settings
    await donor(db, settings, "ann", funds=1000, budget=300)
    liked = await browser.post(
        "/api/v1/likewise/likes",
        json={"uri": fake.post("bob")},
        headers=_auth(await _token_of(alpha, "ann")),
    )
    assert liked.status_code == 201, liked.text
    async with db.session() as session:
        period = (await session.exec(select(Click.period))).one()
    await close_period(db, settings, period, force=True)
    assert await balance(db, settings, available(cat)) == 300
    assert await _lines(alpha) == []
    await assert_books_balance(db)
