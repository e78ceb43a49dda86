from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from server.context import context
from server.money.funding import Funding, credit_wallet
from tests.support.accounts import csrf_from, log_in, make_account


async def _logged_in(
    app: Starlette, client: httpx.AsyncClient, name: str, admin: bool = False
) -> None:
    await make_account(app, name, admin=admin)
    assert (await log_in(client, name)).status_code == 303


async def test_admin_funds_a_wallet_once_per_reference(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    await _logged_in(app, client, "root1", admin=True)
    page = await client.get("/admin/money")
    assert page.status_code == 200
    form = {
        "username": "ann",
        "amount": "12.50",
        "reference": "bank-7",
        "csrf_token": csrf_from(page.text),
    }
    assert (await client.post("/admin/money/fund", data=form)).status_code == 303
    assert "Credited 12.50 EUR to @ann" in (await client.get("/admin/money")).text
    assert (await client.post("/admin/money/fund", data=form)).status_code == 303
    assert "Already credited" in (await client.get("/admin/money")).text
    bad = await client.post("/admin/money/fund", data={**form, "amount": "-1"})
    assert bad.status_code == 422


async def test_non_admins_cannot_fund(app: Starlette, client: httpx.AsyncClient) -> None:
    await _logged_in(app, client, "ann")
    assert (await client.get("/admin/money", headers={"accept": "text/html"})).status_code == 403


async def test_button_like_dashboard_and_pie(app: Starlette, client: httpx.AsyncClient) -> None:
    await _logged_in(app, client, "ann")
    async with context(app).db.transaction() as session:
        await credit_wallet(session, context(app).settings, Funding(1, 2000, "seed"))
    url = "https://blog.example/post-1"
    page = await client.get("/button", params={"url": url})
    assert "0 likes" in page.text
    pressed = await client.post(
        "/button/like", data={"url": url, "csrf_token": csrf_from(page.text)}
    )
    liked = await client.get(pressed.headers["location"])
    assert "Liked." in liked.text and "1 like " in liked.text
    badge = await client.get("/button/badge.svg", params={"url": url})
    assert badge.headers["content-type"].startswith("image/svg+xml")
    assert 'aria-label="Donate with a like on Likewise: 1 like so far"' in badge.text
    dashboard = await client.get("/money")
    assert dashboard.status_code == 200
    assert re.search(r"<path [^>]+><title>https://blog.example/post-1: 5.00 EUR", dashboard.text)
    assert 'href="#clicks-table"' in dashboard.text


async def test_budget_form_rejects_values_outside_the_limits(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _logged_in(app, client, "ann")
    page = await client.get("/money")
    token = csrf_from(page.text)
    low = await client.post("/money/budget", data={"monthly_budget": "0.50", "csrf_token": token})
    assert low.status_code == 422 and "between 2.00 and 1000.00 EUR" in low.text
    ok = await client.post("/money/budget", data={"monthly_budget": "8.00", "csrf_token": token})
    assert ok.status_code == 303
    assert "8.00 EUR" in (await client.get("/money")).text


async def test_the_badge_of_a_bad_url_is_still_an_image(client: httpx.AsyncClient) -> None:
    badge = await client.get("/button/badge.svg", params={"url": "not a url"})
    assert badge.status_code == 200
    assert 'aria-label="Donate with a like on Likewise: 0 likes so far"' in badge.text
