"""Every amount typed into a money form or sent to the money API follows one rule: ASCII
digits only, the instance's currency and scale exactly, within the ceiling; anything else
is a clear 422 and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from server.context import context
from server.domain_errors import ValidationFailed
from server.money.amounts import format_amount, parse_amount
from server.money.audit import check_ledger
from server.money.funding import Funding, credit_wallet
from server.settings import Settings
from tests.support.accounts import csrf_from, log_in, make_account, make_token

AMOUNT_CEILING = 10**15 - 1  # minor units: the documented ceiling (docs/settlement.md)
# Superscript two, Arabic-Indic twelve, fullwidth ten: str.isdigit() says yes to each,
# and int() or a regular expression's \d take the last two as 12 and 10.
SUPERSCRIPT_TWO, ARABIC_TWELVE, FULLWIDTH_TEN = "\u00b2", "\u0661\u0662", "\uff11\uff10"
NON_ASCII_DIGITS = (
    SUPERSCRIPT_TWO,
    ARABIC_TWELVE,
    FULLWIDTH_TEN,
    "1" + SUPERSCRIPT_TWO,
    ARABIC_TWELVE + ".\u0660\u0660",
    FULLWIDTH_TEN + ".00",
    "10.\uff100",
)
NON_ASCII_VALUES = (SUPERSCRIPT_TWO, ARABIC_TWELVE + "00", FULLWIDTH_TEN + "00", "1\u00b2")


def _eur(value: str) -> dict[str, object]:
    return {"value": value, "currency": "EUR", "scale": 2}


async def _donor(app: Starlette, name: str = "ann") -> dict[str, str]:
    account = await make_account(app, name)
    async with context(app).db.transaction() as session:
        await credit_wallet(
            session, context(app).settings, Funding(int(account.id or 0), 5000, name)
        )
    return {"Authorization": f"Bearer {await make_token(app, account)}"}


def _api_cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for text in NON_ASCII_DIGITS:
        cases.append(("budget", {"monthly_budget": text}))
        cases.append(("payouts", {"amount": text, "iban": "DE89370400440532013000", "name": "A"}))
    for value in NON_ASCII_VALUES:
        cases.append(("budget", {"monthly_budget": _eur(value)}))
        cases.append(("payouts", {"amount": _eur(value), "iban": "DE89370400440532013000"}))
    return cases


UNIT_CASES: list[tuple[str, Any]] = [
    # An amount object names its currency and scale, exactly.
    ("budget", {"monthly_budget": {"value": "800"}}),
    ("budget", {"monthly_budget": {"value": "800", "currency": "EUR"}}),
    ("budget", {"monthly_budget": {"value": "8000", "currency": "EUR", "scale": 3}}),
    ("budget", {"monthly_budget": {"value": "800", "currency": "EUR", "scale": 2.0}}),
    ("budget", {"monthly_budget": {"value": "800", "currency": "EUR", "scale": 2, "x": 1}}),
    # Unknown fields in a money request are refused, not ignored.
    ("budget", {"monthly_budget": "8.00", "montly_budget": "900.00"}),
    ("payouts", {"amount": "1.00", "iban": "DE89370400440532013000", "name": "A", "to": "x"}),
    # Beyond the ceiling, however spelt.
    ("budget", {"monthly_budget": "99999999999999999999.00"}),
    ("budget", {"monthly_budget": _eur("9223372036854775808")}),
    ("payouts", {"amount": _eur(str(AMOUNT_CEILING + 1)), "iban": "DE89370400440532013000"}),
]


@pytest.mark.parametrize(("path", "body"), _api_cases() + UNIT_CASES)
async def test_the_money_api_refuses_non_ascii_digits_other_units_and_unknown_fields(
    app: Starlette, client: httpx.AsyncClient, path: str, body: Any
) -> None:
    auth = await _donor(app)
    before = (await client.get("/api/v1/likewise/me", headers=auth)).json()
    method = client.put if path == "budget" else client.post
    response = await method(f"/api/v1/likewise/{path}", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed" and response.json()["error"]
    assert (await client.get("/api/v1/likewise/me", headers=auth)).json() == before
    assert (await client.get("/api/v1/likewise/payouts", headers=auth)).json() == []


async def _admin_page(app: Starlette, client: httpx.AsyncClient, path: str) -> str:
    await make_account(app, "operator", admin=True)
    assert (await log_in(client, "operator")).status_code == 303
    page = await client.get(path)
    assert page.status_code == 200
    return csrf_from(page.text)


@pytest.mark.parametrize("text", NON_ASCII_DIGITS)
async def test_money_forms_refuse_non_ascii_digits(
    app: Starlette, client: httpx.AsyncClient, text: str
) -> None:
    await make_account(app, "ann")
    token = await _admin_page(app, client, "/admin/money")
    forms = {
        "/admin/money/fund": {"username": "ann", "amount": text, "reference": "r"},
        "/money/budget": {"monthly_budget": text},
        "/money/payouts": {"amount": text, "iban": "DE89370400440532013000", "name": "Root"},
        "/admin/peers/propose": {"domain": "beta.test", "credit_limit": text},
        "/admin/peers/beta.test/paid": {"amount": text, "reference": "SEPA-1"},
    }
    for path, form in forms.items():
        response = await client.post(path, data={**form, "csrf_token": token})
        assert response.status_code == 422, (path, response.text[:300])
        # (the peers page shows no message for its payment form when there is no peer)
        assert "not an amount like 10.00" in response.text or path.endswith("/paid"), path
    me = await client.get("/admin/money")
    assert me.status_code == 200 and "Credited" not in me.text


async def test_credits_stop_at_the_ceiling_and_the_books_stay_whole(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given an admin crediting a donor's wallet
    await make_account(app, "ann")
    token = await _admin_page(app, client, "/admin/money")

    async def fund(amount: str, reference: str) -> httpx.Response:
        form = {"username": "ann", "amount": amount, "reference": reference, "csrf_token": token}
        return await client.post("/admin/money/fund", data=form)

    # When they credit 999,999,999,999,999.99 EUR again and again (93 such credits once
    # turned a balance into a float)
    huge = [await fund("999999999999999.99", f"huge-{i}") for i in range(93)]
    # Then each is refused as beyond the ceiling, and nothing is booked
    assert {response.status_code for response in huge} == {422}
    assert "an amount is at most 9999999999999.99 EUR" in huge[0].text
    assert await _balances(app) == []
    # When they credit the most one amount may be, and then more
    first = await fund("9999999999999.99", "max-1")
    credited = await client.get("/admin/money")  # the notice, once (post/redirect/get)
    second = await fund("9999999999999.99", "max-2")
    small = await fund("0.01", "max-3")
    # Then the first is booked; every later credit is refused at the ceiling (the outside
    # world would have paid in more than any account may hold), with a clear 409
    assert first.status_code == 303 and "Credited 9999999999999.99 EUR to @ann" in credited.text
    assert second.status_code == 409 and "beyond 999999999999999 minor units" in second.text
    assert small.status_code == 409 and "nothing was booked" in small.text
    # And the balances are whole numbers at the ceiling; the ledger check passes
    balances = await _balances(app)
    assert balances == [-AMOUNT_CEILING, AMOUNT_CEILING]
    assert all(type(balance) is int for balance in balances)
    async with context(app).db.session() as session:
        audit = await check_ledger(session)
    assert audit.ok, audit.problems
    assert audit.transfers == 1


async def _balances(app: Starlette) -> list[int]:
    async with context(app).db.session() as session:
        connection = await session.connection()
        rows = await connection.exec_driver_sql("SELECT balance FROM ledger_account")
        return sorted(balance for (balance,) in rows.all())


EUR = Settings(data_dir=Path("unused"))


@given(st.integers(min_value=1, max_value=AMOUNT_CEILING))
def test_an_amount_formats_and_parses_back_to_itself(value: int) -> None:
    assert parse_amount(format_amount(value, EUR), EUR) == value


@given(st.text(max_size=24))
def test_only_ascii_digits_make_an_amount(text: str) -> None:
    """Any text parses to an amount within the ceiling, or is a ValidationFailed: never
    another error; and what parses is made of ASCII digits and at most one point."""
    try:
        value = parse_amount(text, EUR)
    except ValidationFailed:
        return
    assert 0 < value <= AMOUNT_CEILING
    assert set(text.strip()) <= set("0123456789.")


# Superscripts, Arabic-Indic, fullwidth, N'Ko, Lao, Telugu and mathematical digits.
OTHER_DIGITS = "\u00b2\u00b3\u00b9\u0660\u0661\u0669\uff10\uff11\uff19\u07c1\u0ed1\u0c67\U0001d7d9"


@given(st.sampled_from(OTHER_DIGITS), st.integers(0, 6))
def test_a_single_non_ascii_digit_anywhere_is_refused(digit: str, where: int) -> None:
    text = "1234.56"
    spoilt = text[:where] + digit + text[where + 1 :]
    with pytest.raises(ValidationFailed):
        parse_amount(spoilt, EUR)
