"""Shared steps of the OAuth tests: register an app, run the code flow through the pages."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.accounts import csrf_from

REDIRECT = "myapp://oauth-callback"
VERIFIER = "a-verifier-long-enough-to-satisfy-rfc-7636-section-4-1-xyz"


def challenge(verifier: str = VERIFIER) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str
    body: dict[str, Any]


async def register(
    client: httpx.AsyncClient, scopes: str = "read write follow", redirect: str = REDIRECT
) -> App:
    response = await client.post(
        "/api/v1/apps",
        data={"client_name": "Test App", "redirect_uris": redirect, "scopes": scopes},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return App(body["client_id"], body["client_secret"], body)


def authorize_params(app: App, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read write",
        "state": "xyz",
    }
    params.update(extra)
    return params


async def consent_page(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.get("/oauth/authorize", params=params)


async def approve(
    client: httpx.AsyncClient, params: dict[str, str], decision: str = "approve"
) -> httpx.Response:
    page = await consent_page(client, params)
    assert page.status_code == 200, page.text
    form = {**params, "decision": decision, "csrf_token": csrf_from(page.text)}
    return await client.post("/oauth/authorize", data=form)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def code_for(client: httpx.AsyncClient, app: App, **extra: str) -> str:
    answer = await approve(client, authorize_params(app, **extra))
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["state"] == "xyz"
    return query["code"]


async def exchange(client: httpx.AsyncClient, app: App, code: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": REDIRECT,
        **extra,
    }
    return await client.post("/oauth/token", data=data)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
