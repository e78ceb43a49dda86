"""An app's sign-up (POST /api/v1/accounts) takes the person's `locale`, as Mastodon does:
a locale it knows is stored on the account, none means the instance's ("en"), another is
refused with Mastodon's 422 (ERR_INCLUSION) and no account is made."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Account
from tests.accounts.oauth_steps import App, bearer, register

SIGN_UP = {
    "username": "carol",
    "email": "carol@example.org",
    "password": "a long password",
    "agreement": "true",
}


async def _app_token(client: httpx.AsyncClient, app: App) -> str:
    answer = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": "read write",
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def _stored(app: Starlette, username: str) -> Account | None:
    async with context(app).db.session() as session:
        query = select(Account).where(Account.username == username)
        return (await session.exec(query)).first()


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("pt-BR", "pt-BR"), ("pt_br", "pt-BR"), ("zh-TW", "zh-TW"), ("de", "de"), (None, "en")],
)
async def test_the_locale_is_stored_or_the_instance_s_taken(
    app: Starlette, client: httpx.AsyncClient, sent: str | None, kept: str
) -> None:
    token = await _app_token(client, await register(client))
    body = SIGN_UP if sent is None else {**SIGN_UP, "locale": sent}
    answer = await client.post("/api/v1/accounts", json=body, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    account = await _stored(app, "carol")
    assert account is not None and account.locale == kept
    # The interface language is not the posting language (source[language]).
    me = await client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(answer.json()["access_token"])
    )
    assert me.status_code == 200 and me.json()["source"]["language"] == ""


@pytest.mark.parametrize("sent", ["xx", "klingon", "en-ZZ", "../en", "en\x00", "e" * 40, "7"])
async def test_an_unknown_locale_is_refused_in_mastodon_s_shape(
    app: Starlette, client: httpx.AsyncClient, sent: str
) -> None:
    token = await _app_token(client, await register(client))
    answer = await client.post(
        "/api/v1/accounts", data={**SIGN_UP, "locale": sent}, headers=bearer(token)
    )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "Validation failed: Locale is not included in the list"
    assert body["details"]["locale"][0]["error"] == "ERR_INCLUSION"
    assert await _stored(app, "carol") is None


@pytest.mark.parametrize(("sent", "status"), [({"en": 1}, 400), (True, 400), (42, 422)])
async def test_a_locale_that_is_no_string_is_refused(
    app: Starlette, client: httpx.AsyncClient, sent: object, status: int
) -> None:
    token = await _app_token(client, await register(client))
    answer = await client.post(
        "/api/v1/accounts", json={**SIGN_UP, "locale": sent}, headers=bearer(token)
    )
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
    assert await _stored(app, "carol") is None
