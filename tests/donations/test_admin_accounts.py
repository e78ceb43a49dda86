"""The admin's users-and-wallets pages over HTTP against the app on the test database:
search by handle or e-mail, keyset paging by handle, an account's ledger history with its
chart, suspension behind its confirmation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from server.context import context
from server.donations import admin_accounts
from server.donations.budget import update_donor_settings
from server.donations.close import close_period
from server.donations.periods import period_of, previous_period
from server.models.base import utcnow
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.ledger import balance, donor, like, wallet, web_thing

LAST_MONTH = previous_period(period_of(utcnow()))
IN_LAST_MONTH = datetime.strptime(LAST_MONTH + "-10", "%Y-%m-%d").replace(tzinfo=UTC)


async def _admin(app: Starlette, client: httpx.AsyncClient) -> str:
    await make_account(app, "root1", admin=True)
    assert (await log_in(client, "root1")).status_code == 303
    return csrf_from((await client.get("/admin/money")).text)


def _handles(html: str) -> list[str]:
    return re.findall(r'<tr class="account [a-z]+">\s*<td><a href="/admin/accounts/(\w+)"', html)


async def test_accounts_are_searched_and_paged_by_handle(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 7 accounts besides the admin, one with money and a budget
    db, settings = context(app).db, context(app).settings
    for name in ("ann", "anna", "annie", "bob", "cat", "dora", "eve"):
        await donor(db, settings, name, funds=1250 if name == "anna" else 0)
    async with db.transaction() as session:
        await update_donor_settings(session, settings, 2, monthly_budget=700)
    await _admin(app, client)
    # When the admin pages through three at a time, following the next link
    monkeypatch.setattr(admin_accounts, "PAGE_SIZE", 3)
    pages, address = [], "/admin/accounts"
    while address:
        page = await client.get(address.replace("&amp;", "&"))
        assert page.status_code == 200
        pages.append(_handles(page.text))
        link = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        address = link.group(1) if link else ""
    # Then every account comes once, in handle order
    assert pages == [
        ["ann", "anna", "annie"],
        ["bob", "cat", "dora"],
        ["eve", "root1"],
    ]
    # Then a search by the start of a handle, and by e-mail, finds only those
    found = await client.get("/admin/accounts", params={"q": "@Ann"})
    assert _handles(found.text) == ["ann", "anna", "annie"]
    assert "12.50 EUR" in found.text and "7.00 EUR" in found.text
    by_mail = await client.get("/admin/accounts", params={"q": "dora@example"})
    assert _handles(by_mail.text) == ["dora"]
    none = await client.get("/admin/accounts", params={"q": "zed"})
    assert _handles(none.text) == [] and "No account matches" in none.text


async def test_paging_within_a_search_reaches_its_end(app: Starlette) -> None:
    db, settings = context(app).db, context(app).settings
    for index in range(7):
        await donor(db, settings, f"user{index}")
    seen: list[str] = []
    after = ""
    while True:
        page = await admin_accounts.list_accounts(db, settings, "user", after, size=3)
        seen += [row.username for row in page.rows]
        if not page.next_after:
            break
        after = page.next_after
    assert seen == [f"user{index}" for index in range(7)]


async def test_an_accounts_history_shows_its_wallet_lines_with_a_chart(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given ann funded with 20.00, a 6.00 budget and a like last month, closed
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann", funds=2000, budget=600)
    await like(db, settings, ann, web_thing("https://blog.example/a"), at=IN_LAST_MONTH)
    await close_period(db, settings, LAST_MONTH)
    await _admin(app, client)
    # When the admin opens ann's page
    page = await client.get("/admin/accounts/ann")
    assert page.status_code == 200
    # Then it lists the credit and the month's budget, newest first, with balances after
    rows = re.findall(r'<tr class="line (\w+)">', page.text)
    assert rows == ["close_reserve", "funding"]
    assert "14.00 EUR" in page.text  # the balance after the close
    assert 'role="img"' in page.text and "<title>month close: budget: out 6.00 EUR" in page.text
    assert await balance(db, settings, wallet(ann)) == 1400
    missing = await client.get("/admin/accounts/nobody")
    assert missing.status_code == 404
    bad = await client.get("/admin/accounts/ann", params={"before": "x1"})
    assert bad.status_code == 422


async def test_suspending_an_account_is_behind_a_confirmation(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    csrf = await _admin(app, client)
    page = await client.get("/admin/accounts/ann")
    assert re.search(r"<details class=\"confirm\">\s*<summary>Suspend @ann", page.text)
    done = await client.post("/admin/accounts/ann/suspend", data={"csrf_token": csrf})
    assert done.status_code == 303
    after = await client.get("/admin/accounts/ann")
    assert "@ann is suspended" in after.text and "Reinstate @ann" in after.text
    assert 'class="account suspended"' in (await client.get("/admin/accounts")).text
    back = await client.post("/admin/accounts/ann/reinstate", data={"csrf_token": csrf})
    assert back.status_code == 303
    assert "@ann is active again" in (await client.get("/admin/accounts/ann")).text
    odd = await client.post("/admin/accounts/ann/delete", data={"csrf_token": csrf})
    assert odd.status_code == 404


async def test_older_lines_keep_the_balance_after_each(app: Starlette) -> None:
    from server.money.funding import Funding, credit_wallet

    # Given three credits to ann's wallet: 1.00, 2.00, 4.00
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann")
    for number, amount in enumerate((100, 200, 400)):
        async with db.transaction() as session:
            await credit_wallet(session, settings, Funding(ann, amount, f"bank-{number}"))
    # When the history is read one line a page, following each page's cursor
    seen: list[tuple[int, int]] = []
    before = 0
    while True:
        page = await admin_accounts.account_history(db, settings, "ann", before, size=1)
        seen += [(line.amount, line.balance) for line in page.lines]
        if not page.next_before:
            break
        before = page.next_before
    # Then every line comes once, newest first, each with the balance right after it
    assert seen == [(400, 700), (200, 300), (100, 100)]


@pytest.mark.parametrize(
    ("address", "status"),
    [
        # A NUL in any address is refused ahead of the routes (server/middleware.py)
        ("/admin/accounts?q=%00", 400),
        ("/admin/accounts?after=%00", 400),
        ("/admin/accounts?q=ann%01", 422),
    ],
)
async def test_a_control_character_in_the_search_is_refused_plainly(
    app: Starlette, client: httpx.AsyncClient, address: str, status: int
) -> None:
    # PostgreSQL refuses a NUL in a query (it was a 500): no handle or e-mail holds one
    await _admin(app, client)
    refused = await client.get(address)
    assert refused.status_code == status, refused.status_code
    missing = await client.get("/admin/accounts/ann%01")
    assert missing.status_code == 404, missing.status_code
    assert (await client.get("/admin/accounts/ann%00")).status_code == 400
