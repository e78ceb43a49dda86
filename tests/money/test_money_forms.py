"""Every money form books once: it redirects after its POST (the notice in the session, not
the URL), and a form without a reference books under the key it was shown with, so a
reload or a double submit changes nothing. A refused form keeps what was typed."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from server.context import context
from server.models import LedgerKind
from server.money.funding import Funding, credit_wallet
from server.money.ledger import Owner
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.ledger import assert_books_balance, balance, wallet

FORM_KEY = re.compile(r'name="form_key" value="([0-9a-f]{32})"')


def form_key(html: str) -> str:
    found = FORM_KEY.search(html)
    assert found is not None, "the form has no key"
    return found.group(1)


async def _admin(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "boss", admin=True)
    assert (await log_in(client, "boss")).status_code == 303


async def test_a_credit_without_reference_books_once_on_reload_and_double_submit(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await make_account(app, "ann")
    await _admin(app, client)
    page = await client.get("/admin/money")
    form = {
        "username": "ann",
        "amount": "50.00",
        "reference": "",
        "form_key": form_key(page.text),
        "csrf_token": csrf_from(page.text),
    }
    first = await client.post("/admin/money/fund", data=form)
    double = await client.post("/admin/money/fund", data=form)  # the second click, or a reload
    assert first.status_code == double.status_code == 303
    assert first.headers["location"] == "/admin/money"  # no notice in the URL
    shown = await client.get("/admin/money")
    assert "Already credited 50.00 EUR to @ann." in shown.text
    assert "Already credited" not in (await client.get("/admin/money")).text  # shown once
    db, settings = context(app).db, context(app).settings
    assert await balance(db, settings, wallet(int(ann.id or 0))) == 5000
    # The page lists the credit with the admin who made it
    row = re.search(r'<tr class="credit">(.*?)</tr>', shown.text)
    assert row is not None and "@ann" in row.group(1) and "@boss" in row.group(1)
    # A new form has a new key: a second credit on purpose books
    again = {**form, "form_key": form_key(shown.text)}
    assert (await client.post("/admin/money/fund", data=again)).status_code == 303
    assert await balance(db, settings, wallet(int(ann.id or 0))) == 10000
    await assert_books_balance(db)


async def test_a_refused_credit_keeps_what_was_typed(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    await _admin(app, client)
    page = await client.get("/admin/money")
    key = form_key(page.text)
    form = {"username": "nobody", "amount": "12.50", "reference": "bank-9", "form_key": key}
    refused = await client.post(
        "/admin/money/fund", data={**form, "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 404
    assert 'value="nobody"' in refused.text and 'value="12.50"' in refused.text
    assert 'value="bank-9"' in refused.text and form_key(refused.text) == key
    keyless = {**form, "username": "ann", "reference": "", "form_key": ""}
    stale = await client.post(
        "/admin/money/fund", data={**keyless, "csrf_token": csrf_from(page.text)}
    )
    assert stale.status_code == 422 and "reload the page" in stale.text


async def test_a_payout_request_books_once(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await make_account(app, "alice")
    db, settings = context(app).db, context(app).settings
    available = Owner(LedgerKind.creator_available, account_id=alice.id)
    async with db.transaction() as session:  # what her supporters gave, as the close books it
        await credit_wallet(session, settings, Funding(int(alice.id or 0), 3000, "seed"))
    await _give_available(app, int(alice.id or 0), 3000)
    assert (await log_in(client, "alice")).status_code == 303
    page = await client.get("/money/creator")
    form = {
        "amount": "11.00",
        "iban": "DE89370400440532013000",
        "name": "Alice Doe",
        "bic": "",
        "form_key": form_key(page.text),
        "csrf_token": csrf_from(page.text),
    }
    first = await client.post("/money/payouts", data=form)
    double = await client.post("/money/payouts", data=form)
    assert first.status_code == double.status_code == 303
    assert "already requested" in (await client.get("/money/creator")).text
    assert await balance(db, settings, available) == 1900
    # Refused: what was typed stays
    fresh = form_key((await client.get("/money/creator")).text)
    too_much = {**form, "amount": "99.00", "form_key": fresh}
    refused = await client.post("/money/payouts", data=too_much)
    assert refused.status_code == 409 and 'value="99.00"' in refused.text
    assert 'value="Alice Doe"' in refused.text
    await assert_books_balance(db)


async def _give_available(app: Starlette, account_id: int, amount: int) -> None:
    """Move money from the wallet to the creator's available balance, as a claim would."""
    from server.models import TransferKind
    from server.money.ledger import TransferSpec, ledger_account_ids, post_transfer

    db, settings = context(app).db, context(app).settings
    source = Owner(LedgerKind.donor_wallet, account_id=account_id)
    target = Owner(LedgerKind.creator_available, account_id=account_id)
    async with db.transaction() as session:
        ids = await ledger_account_ids(session, settings, [source, target])
        spec = TransferSpec(
            "test:available", ids[source], ids[target], amount, TransferKind.escrow_claim
        )
        await post_transfer(session, spec)


async def test_payout_decisions_book_once(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await make_account(app, "alice")
    db, settings = context(app).db, context(app).settings
    async with db.transaction() as session:
        await credit_wallet(session, settings, Funding(int(alice.id or 0), 3000, "seed"))
    await _give_available(app, int(alice.id or 0), 3000)
    from server.money.payouts import PayoutRequest, request_payout

    async with db.transaction() as session:
        wanted = PayoutRequest(int(alice.id or 0), 1000, "DE89370400440532013000", "Alice")
        payout = await request_payout(session, settings, wanted)
    await _admin(app, client)
    token = csrf_from((await client.get("/admin/money")).text)
    reject = f"/admin/payouts/{payout.id}/reject"
    first = await client.post(reject, data={"note": "no", "csrf_token": token})
    again = await client.post(reject, data={"note": "no", "csrf_token": token})
    assert first.status_code == 303 and again.status_code == 409  # refused: nothing moved
    available = Owner(LedgerKind.creator_available, account_id=alice.id)
    assert await balance(db, settings, available) == 3000
    await assert_books_balance(db)


async def test_the_budget_form_redirects_and_keeps_a_refused_value(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    assert (await log_in(client, "ann")).status_code == 303
    token = csrf_from((await client.get("/money")).text)
    refused = await client.post(
        "/money/budget", data={"monthly_budget": "0.50", "csrf_token": token}
    )
    assert refused.status_code == 422 and 'value="0.50"' in refused.text
    saved = await client.post("/money/budget", data={"monthly_budget": "8.00", "csrf_token": token})
    twice = await client.post("/money/budget", data={"monthly_budget": "8.00", "csrf_token": token})
    assert saved.status_code == twice.status_code == 303 and saved.headers["location"] == "/money"
    page = (await client.get("/money")).text
    assert "Your budget is saved." in page and 'value="8.00"' in page
    await assert_books_balance(context(app).db)
