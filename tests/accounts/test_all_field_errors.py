"""A form refused for several wrong fields says so for each at once, next to each field, with a
summary at the top and what was typed kept: sign-up, the password change, the profile, the
personal token, the payout request and the admin's wallet credit. The client API still
answers with one error, as before."""

from __future__ import annotations

import re
import secrets

import httpx
from starlette.applications import Starlette

from tests.accounts.oauth_steps import register
from tests.support.accounts import bearer, csrf_from, log_in, make_account

SUMMARY = re.compile(r'<div class="error error-summary" role="alert">(.*?)</div>', re.S)


def summary_of(html: str) -> list[str]:
    """The messages the summary at the top lists, each a link to its field."""
    found = SUMMARY.search(html)
    assert found is not None, "no summary of the errors at the top"
    return re.findall(r'<li><a href="#[^"]+">([^<]+)</a></li>', found.group(1))


def field_message(html: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="{re.escape(name)}-error">([^<]+)</p>', html)
    assert found is not None, f"no message next to {name}"
    return found.group(1)


async def test_sign_up_shows_every_wrong_field_at_once(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "taken")
    page = await client.get("/signup")
    refused = await client.post(
        "/signup",
        data={
            "username": "taken",
            "email": "not an address",
            "password": "short",
            "display_name": "Dora",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert refused.status_code == 409  # the first refusal's: the username is taken
    assert field_message(refused.text, "username") == "that username is already taken"
    assert field_message(refused.text, "email") == "that is not an e-mail address"
    assert field_message(refused.text, "password") == "password must have at least 8 characters"
    assert summary_of(refused.text) == [
        "that username is already taken",
        "that is not an e-mail address",
        "password must have at least 8 characters",
    ]
    assert "Please correct the 3 fields marked below." in refused.text
    assert refused.text.count('aria-invalid="true"') == 3
    assert 'value="taken"' in refused.text and 'value="not an address"' in refused.text
    assert 'value="Dora"' in refused.text and 'value="short"' not in refused.text


async def test_a_taken_username_and_e_mail_are_both_named(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    await make_account(app, "bob")
    page = await client.get("/signup")
    refused = await client.post(
        "/signup",
        data={
            "username": "ann",
            "email": "bob@example.org",
            "password": "correct horse",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert refused.status_code == 409
    assert field_message(refused.text, "username") == "that username is already taken"
    assert field_message(refused.text, "email") == "that email is already taken"


async def test_one_wrong_field_is_marked_without_a_summary(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/signup")
    refused = await client.post(
        "/signup",
        data={
            "username": "dora",
            "email": "dora@example.org",
            "password": "short",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert refused.status_code == 422
    assert field_message(refused.text, "password") == "password must have at least 8 characters"
    assert SUMMARY.search(refused.text) is None


async def test_the_app_sign_up_still_answers_with_the_first_error(
    client: httpx.AsyncClient,
) -> None:
    registered = await register(client)
    app_token = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
            "scope": "read write",
        },
    )
    refused = await client.post(
        "/api/v1/accounts",
        json={"username": "a b", "email": "nope", "password": "x", "agreement": True},
        headers={"Authorization": f"Bearer {app_token.json()['access_token']}"},
    )
    assert refused.status_code == 422
    body = refused.json()
    assert (
        body["error"] == "Validation failed: username must be 1-30 letters, digits or underscores"
    )
    assert list(body["details"]) == ["username"]


async def test_the_password_change_names_both_wrong_fields(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    for path in ("/settings/password", "/account"):
        page = await client.get(path)
        action = "/settings/password" if path == "/settings/password" else "/account/password"
        refused = await client.post(
            action,
            data={
                "current_password": "not it",
                "new_password": "short",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert refused.status_code == 422
        assert field_message(refused.text, "current_password") == (
            "that is not your current password"
        )
        assert field_message(refused.text, "new_password") == (
            "password must have at least 8 characters"
        )
        assert "Please correct the 2 fields marked below." in refused.text
    assert (await log_in(client, "alice")).status_code == 303  # nothing changed


async def test_the_profile_form_names_every_wrong_field(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/settings/profile")
    form = {
        "display_name": "x" * 31,
        "note": "n" * 501,
        "fields_attributes[0][name]": "site",
        "fields_attributes[0][value]": "v" * 256,
        "csrf_token": csrf_from(page.text),
    }
    refused = await client.post("/settings/profile", data=form)
    assert refused.status_code == 422
    assert field_message(refused.text, "display_name") == (
        "the display name has at most 30 characters"
    )
    assert field_message(refused.text, "note") == "the bio has at most 500 characters"
    assert field_message(refused.text, "fields_attributes").startswith("a profile field&#39;s name")
    assert len(summary_of(refused.text)) == 3
    assert 'value="site"' in refused.text and "n" * 501 in refused.text
    after = await client.get("/settings/profile")
    assert "x" * 31 not in after.text  # nothing was saved


async def test_the_token_form_names_the_name_and_the_scopes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/settings/tokens")
    refused = await client.post(
        "/settings/tokens", data={"name": " ", "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 422
    assert field_message(refused.text, "name").startswith("give the token a name")
    assert field_message(refused.text, "scopes") == "choose at least one scope"
    kept = await client.post(
        "/settings/tokens",
        data={"name": "", "scopes": ["write"], "csrf_token": csrf_from(page.text)},
    )
    assert re.search(r'value="write" checked', kept.text)
    assert not re.search(r'value="read" checked', kept.text)


async def test_the_payout_form_names_every_wrong_field(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/money/creator")
    form = {
        "amount": "ten",
        "iban": "DE00 1234",
        "name": "",
        "bic": "NOTABIC",
        "form_key": secrets.token_hex(16),
        "csrf_token": csrf_from(page.text),
    }
    refused = await client.post("/money/payouts", data=form)
    assert refused.status_code == 422
    assert field_message(refused.text, "amount").startswith("&#39;ten&#39; is not an amount")
    assert field_message(refused.text, "name") == (
        "give the account holder&#39;s name (1-70 characters)"
    )
    assert field_message(refused.text, "iban").startswith("that IBAN is not valid")
    assert field_message(refused.text, "bic").startswith("that BIC is not valid")
    assert len(summary_of(refused.text)) == 4
    assert 'value="ten"' in refused.text and 'value="DE00 1234"' in refused.text
    below = await client.post("/money/payouts", data={**form, "amount": "1.00"})
    assert field_message(below.text, "amount") == "the smallest payout is 10.00 EUR"


async def test_the_wallet_credit_names_the_account_and_the_amount(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "root1", admin=True)
    await log_in(client, "root1")
    page = await client.get("/admin/money")
    form = {
        "username": "nobody",
        "amount": "-5",
        "reference": "bank-1",
        "form_key": secrets.token_hex(16),
        "csrf_token": csrf_from(page.text),
    }
    refused = await client.post("/admin/money/fund", data=form)
    assert refused.status_code == 404
    assert field_message(refused.text, "username") == "no account named &#39;nobody&#39;"
    assert field_message(refused.text, "amount").startswith("&#39;-5&#39; is not an amount")
    assert 'value="nobody"' in refused.text and 'value="bank-1"' in refused.text


async def test_the_api_profile_update_still_answers_with_one_error(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    auth = await bearer(app, "carol")
    refused = await client.patch(
        "/api/v1/accounts/update_credentials",
        data={"display_name": "x" * 31, "note": "n" * 501},
        headers=auth,
    )
    assert refused.status_code == 422
    assert set(refused.json()) <= {"error", "code", "field", "details"}
    assert "display name" in refused.json()["error"]
