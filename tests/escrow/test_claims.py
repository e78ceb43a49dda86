"""A creator claims money set aside for their own fediverse actor: on the creator dashboard
and through the money API; what is not theirs to claim changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.accounts.actors import actor_uri
from server.context import context
from server.db.engine import Database
from server.donations.close import close_period
from server.escrow.escrow import claim_identity
from server.models import Account, EscrowLine, Identity
from tests.support.accounts import csrf_from, log_in, make_token
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    fediverse_thing,
    like,
    transfers,
    web_thing,
)

OCT = datetime(2026, 10, 10, tzinfo=UTC)


async def _set_aside_for(app: Starlette, username: str) -> int:
    """Two donors like a post by `username`'s actor before that account exists; the
    October close holds their shares (3.00 + 6.00 EUR) in escrow. Returns the identity."""
    db, settings = context(app).db, context(app).settings
    actor = actor_uri(settings, username)
    for name, budget in (("ann", 300), ("bob", 600)):
        who = await donor(db, settings, name, funds=1000, budget=budget)
        await like(db, settings, who, fediverse_thing(f"{actor}/statuses/1", actor), at=OCT)
    await close_period(db, settings, "2026-10")
    async with db.session() as session:
        identity = (await session.exec(select(Identity).where(Identity.external_id == actor))).one()
    assert identity.claimed_account_id is None
    return int(identity.id or 0)


async def _creator(app: Starlette, client: httpx.AsyncClient, username: str) -> int:
    account_id = await donor(context(app).db, context(app).settings, username)
    assert (await log_in(client, username)).status_code == 303
    return account_id


async def _token(app: Starlette, account_id: int, scopes: str = "read write") -> str:
    async with context(app).db.session() as session:
        account = await session.get_one(Account, account_id)
    return await make_token(app, account, scopes)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_creator_sees_waiting_money_and_claims_it_on_the_dashboard(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given money set aside for cat's actor before she signed up
    identity = await _set_aside_for(app, "cat")
    cat = await _creator(app, client, "cat")
    # When she opens her creator dashboard
    page = await client.get("/money/creator")
    # Then she sees what waits, from how many supporters, with a Claim button
    assert page.status_code == 200
    row = re.search(rf'<tr class="waiting" data-identity="{identity}">(.*?)</tr>', page.text, re.S)
    assert row is not None, page.text
    assert '<td class="num amount">9.00 EUR</td>' in row.group(1)
    assert '<td class="num supporters">2</td>' in row.group(1)
    assert f'action="/money/claims/{identity}"' in row.group(1)
    # When she claims it
    token = csrf_from(page.text)
    claimed = await client.post(f"/money/claims/{identity}", data={"csrf_token": token})
    assert claimed.status_code == 303 and claimed.headers["location"] == "/money/creator"
    # Then it is in her available balance and nothing waits any more
    after = await client.get("/money/creator")
    assert "Claimed 9.00 EUR; it is now in your available balance." in after.text
    assert '<dd class="available">9.00 EUR</dd>' in after.text
    assert 'class="waiting"' not in after.text
    assert await balance(context(app).db, context(app).settings, available(cat)) == 900
    await assert_books_balance(context(app).db)
    # And claiming again moves nothing, and says so
    again = await client.post(f"/money/claims/{identity}", data={"csrf_token": token})
    assert again.status_code == 303
    assert "Already claimed: nothing more was waiting." in (await client.get("/money/creator")).text
    assert await balance(context(app).db, context(app).settings, available(cat)) == 900


async def test_the_claim_form_needs_its_csrf_token(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    identity = await _set_aside_for(app, "cat")
    cat = await _creator(app, client, "cat")
    refused = await client.post(f"/money/claims/{identity}", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert await balance(context(app).db, context(app).settings, available(cat)) == 0


async def test_claims_through_the_api(app: Starlette, client: httpx.AsyncClient) -> None:
    # Given money set aside for cat's actor, and cat's token
    identity = await _set_aside_for(app, "cat")
    cat = await donor(context(app).db, context(app).settings, "cat")
    token = await _token(app, cat)
    # When she lists what she can claim
    listed = await client.get("/api/v1/likewise/claims", headers=_auth(token))
    # Then she sees the identity with the amount in the API's amount shape
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "identity_id": str(identity),
            "network": "fediverse",
            "external_id": actor_uri(context(app).settings, "cat"),
            "handle": "",
            "profile_url": "",
            "claimed": False,
            "waiting": {"value": "900", "currency": "EUR", "scale": 2},
            "supporters": 2,
        }
    ]
    # When she claims it, and again
    first = await client.post(f"/api/v1/likewise/claims/{identity}", headers=_auth(token))
    second = await client.post(f"/api/v1/likewise/claims/{identity}", headers=_auth(token))
    # Then the first moves the money, the second nothing, and says so
    assert first.status_code == 200, first.text
    assert first.json() == {
        "outcome": "claimed",
        "identity_id": str(identity),
        "moved": {"value": "900", "currency": "EUR", "scale": 2},
        "available": {"value": "900", "currency": "EUR", "scale": 2},
    }
    assert second.status_code == 200
    assert second.json()["outcome"] == "already_claimed"
    assert second.json()["moved"]["value"] == "0"
    assert (await client.get("/api/v1/likewise/claims", headers=_auth(token))).json() == []
    me = (await client.get("/api/v1/likewise/me", headers=_auth(token))).json()
    assert me["creator"]["available"]["value"] == "900"
    await assert_books_balance(context(app).db)


async def test_claiming_needs_the_write_scope(app: Starlette, client: httpx.AsyncClient) -> None:
    identity = await _set_aside_for(app, "cat")
    cat = await donor(context(app).db, context(app).settings, "cat")
    token = await _token(app, cat, "read")
    refused = await client.post(f"/api/v1/likewise/claims/{identity}", headers=_auth(token))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await client.get("/api/v1/likewise/claims", headers=_auth(token))).status_code == 200
    assert await balance(context(app).db, context(app).settings, available(cat)) == 0


async def _web_identity(db: Database) -> int:
    async with db.session() as session:
        found = await session.exec(select(Identity.id).where(Identity.network == "web"))
        return int(found.one() or 0)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown", 404, "not_found"),
        ("not_yours", 403, "forbidden"),
        ("someone_elses_actor", 403, "forbidden"),
        ("claimed_by_another", 409, "conflict"),
    ],
)
async def test_bad_claims_change_nothing(
    app: Starlette, client: httpx.AsyncClient, case: str, status: int, code: str
) -> None:
    # Given money for cat's actor and for a web site, and accounts cat and dan
    db, settings = context(app).db, context(app).settings
    identity = await _set_aside_for(app, "cat")
    ann = await donor(db, settings, "ann2", funds=1000, budget=400)
    await like(db, settings, ann, web_thing("https://cat.example/post", "https://cat.example"))
    cat = await donor(db, settings, "cat")
    dan = await donor(db, settings, "dan")
    cat_token, dan_token = await _token(app, cat), await _token(app, dan)
    target, token = {
        "unknown": (identity + 1000, cat_token),
        "not_yours": (await _web_identity(db), cat_token),
        "someone_elses_actor": (identity, dan_token),
        "claimed_by_another": (identity, cat_token),
    }[case]
    if case == "claimed_by_another":  # an admin recorded dan's proof first (a mistake)
        async with db.transaction() as session:
            await claim_identity(session, settings, identity, dan, verified=True)
    before = await transfers(db)
    # When the claim is made through the API and through the form
    answer = await client.post(f"/api/v1/likewise/claims/{target}", headers=_auth(token))
    name = "cat" if token == cat_token else "dan"
    assert (await log_in(client, name)).status_code == 303
    page = await client.get("/money/creator")
    form = await client.post(f"/money/claims/{target}", data={"csrf_token": csrf_from(page.text)})
    # Then both refuse with the same status, and no money moved
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert form.status_code == status
    assert 'role="alert"' in form.text
    assert await transfers(db) == before
    async with db.session() as session:
        states = set((await session.exec(select(EscrowLine.state))).all())
        claimed = (await session.get_one(Identity, identity)).claimed_account_id
    assert states == {"held"} or case == "claimed_by_another"
    assert claimed == (dan if case == "claimed_by_another" else None)
    assert await balance(db, settings, available(cat)) == 0
    await assert_books_balance(db)
