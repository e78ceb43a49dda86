from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.context import context
from server.models import LedgerKind, TransferKind
from server.money.funding import Funding, credit_wallet
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from tests.support.accounts import make_account, make_token


async def _donor(app: Starlette, client: httpx.AsyncClient, name: str, funds: int = 1000) -> str:
    account = await make_account(app, name)
    async with context(app).db.transaction() as session:
        await credit_wallet(
            session, context(app).settings, Funding(int(account.id or 0), funds, name)
        )
    token = await make_token(app, account)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_like_a_url_see_it_with_its_share_and_unclick_it(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    token = await _donor(app, client, "ann")
    for url in ("https://blog.example/a", "https://blog.example/b", "https://other.example/c"):
        liked = await client.post("/api/v1/likewise/likes", json={"uri": url}, headers=auth(token))
        assert liked.status_code == 201, liked.text
        assert liked.json()["outcome"] == "recorded"
    again = await client.post(
        "/api/v1/likewise/likes", json={"uri": "https://blog.example/a"}, headers=auth(token)
    )
    assert again.json()["outcome"] == "duplicate"
    clicks = (await client.get("/api/v1/likewise/clicks", headers=auth(token))).json()
    shares = [c["projected_share"] for c in clicks]
    assert shares[0] == {"value": "167", "currency": "EUR", "scale": 2}
    assert sum(int(s["value"]) for s in shares) == 500
    me = (await client.get("/api/v1/likewise/me", headers=auth(token))).json()
    assert me["wallet"]["value"] == "1000" and me["period"]["clicks"] == 3
    gone = await client.delete(f"/api/v1/likewise/clicks/{clicks[0]['id']}", headers=auth(token))
    assert gone.status_code == 204
    assert len((await client.get("/api/v1/likewise/clicks", headers=auth(token))).json()) == 2


async def test_someone_elses_click_is_not_found(app: Starlette, client: httpx.AsyncClient) -> None:
    ann, bob = await _donor(app, client, "ann"), await _donor(app, client, "bob")
    await client.post(
        "/api/v1/likewise/likes", json={"uri": "https://x.example/"}, headers=auth(ann)
    )
    click = (await client.get("/api/v1/likewise/clicks", headers=auth(ann))).json()[0]
    response = await client.delete(f"/api/v1/likewise/clicks/{click['id']}", headers=auth(bob))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert len((await client.get("/api/v1/likewise/clicks", headers=auth(ann))).json()) == 1


async def test_set_budget_and_pause(app: Starlette, client: httpx.AsyncClient) -> None:
    token = await _donor(app, client, "ann")
    body = {"monthly_budget": {"value": "800", "currency": "EUR", "scale": 2}, "paused": True}
    response = await client.put("/api/v1/likewise/budget", json=body, headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.json()["monthly_budget"]["value"] == "800"
    assert response.json()["paused"] is True
    liked = await client.post(
        "/api/v1/likewise/likes", json={"uri": "https://x.example/"}, headers=auth(token)
    )
    assert liked.json()["outcome"] == "paused"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("budget", {"monthly_budget": {"value": "-5", "currency": "EUR", "scale": 2}}, 422),
        ("budget", {"monthly_budget": {"value": "800", "currency": "USD", "scale": 2}}, 422),
        ("budget", {"monthly_budget": "12.345"}, 422),
        ("budget", {"monthly_budget": {"value": "100", "currency": "EUR", "scale": 2}}, 422),
        ("budget", {"monthly_budget": {"value": "99999999", "currency": "EUR", "scale": 2}}, 422),
        ("budget", {"paused": "yes"}, 422),
        ("budget", ["not", "an", "object"], 400),
        ("likes", {"uri": "javascript:alert(1)"}, 422),
        ("likes", {"uri": 5}, 422),
        ("likes", {"uri": "https://[::1/unclosed"}, 422),
        ("likes", {"uri": "http://[zz]/x"}, 422),
        ("payouts", {"amount": "20.00", "iban": "DE89370400440532013000", "name": "Ann"}, 409),
        ("payouts", {"amount": "1.00", "iban": "DE89370400440532013000", "name": "Ann"}, 422),
        ("payouts", {"amount": "20.00", "iban": "XX00", "name": "Ann"}, 422),
    ],
)
async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    app: Starlette, client: httpx.AsyncClient, path: str, body: Any, status: int
) -> None:
    token = await _donor(app, client, "ann")
    before = (await client.get("/api/v1/likewise/me", headers=auth(token))).json()
    method = client.put if path == "budget" else client.post
    response = await method(f"/api/v1/likewise/{path}", json=body, headers=auth(token))
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert (await client.get("/api/v1/likewise/me", headers=auth(token))).json() == before
    assert (await client.get("/api/v1/likewise/payouts", headers=auth(token))).json() == []


async def test_a_creator_requests_a_payout(app: Starlette, client: httpx.AsyncClient) -> None:
    account = await make_account(app, "cat")
    token = await make_token(app, account)
    settings = context(app).settings
    async with context(app).db.transaction() as session:
        world = Owner(LedgerKind.outside_world)
        mine = Owner(LedgerKind.creator_available, account_id=account.id)
        ids = await ledger_account_ids(session, settings, [world, mine])
        await post_transfer(
            session, TransferSpec("gift", ids[world], ids[mine], 2500, TransferKind.funding)
        )
    body = {
        "amount": {"value": "2000", "currency": "EUR", "scale": 2},
        "iban": "DE89 3704 0044 0532 0130 00",
        "name": "Cat Doe",
    }
    created = await client.post("/api/v1/likewise/payouts", json=body, headers=auth(token))
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "requested"
    me = (await client.get("/api/v1/likewise/me", headers=auth(token))).json()
    assert me["creator"]["available"]["value"] == "500"


async def test_the_api_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/likewise/me")).status_code == 401
