"""JSON bodies the parser refuses with a clear 400, not a 500."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.accounts import make_account, make_token


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b'{"monthly_budget": ' + b"9" * 5000 + b"}",
        b'{"uri": "\xff"}',
    ],
    ids=["nested-arrays", "nested-objects", "5000-digit-number", "not-utf-8"],
)
async def test_bad_json_is_a_400_and_changes_nothing(
    app: Starlette, client: httpx.AsyncClient, body: bytes
) -> None:
    token = await make_token(app, await make_account(app, "ann"))
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    before = (await client.get("/api/v1/likewise/budget", headers=auth)).json()

    response = await client.put("/api/v1/likewise/budget", content=body, headers=auth)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert (await client.get("/api/v1/likewise/budget", headers=auth)).json() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/domain_blocks", b'{"domain": "bad\\u0000.example"}'),
        ("PATCH", "/api/v1/accounts/update_credentials", b'{"note": "a\\u0000b"}'),
        ("POST", "/api/v1/statuses", b'{"status": "hi", "tags": {"x\\u0000": 1}}'),
    ],
    ids=["domain-block", "profile", "in-a-key"],
)
async def test_a_nul_character_in_json_is_a_422_and_changes_nothing(
    app: Starlette, client: httpx.AsyncClient, method: str, path: str, body: bytes
) -> None:
    # PostgreSQL refuses a NUL in text (a 500), as forms are refused one (server/auth.py).
    token = await make_token(app, await make_account(app, "ann"), "read write follow")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    before = (await client.get("/api/v1/accounts/verify_credentials", headers=auth)).json()

    response = await client.request(method, path, content=body, headers=auth)

    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["error"]
    after = (await client.get("/api/v1/accounts/verify_credentials", headers=auth)).json()
    assert after == before
    assert (await client.get("/api/v1/domain_blocks", headers=auth)).json() == []


async def test_an_escaped_backslash_before_u0000_is_no_nul(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    token = await make_token(app, await make_account(app, "ann"))
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = b'{"status": "a backslash then u0000: \\\\u0000"}'
    response = await client.post("/api/v1/statuses", content=body, headers=auth)
    assert response.status_code == 200, response.text
    assert "\\u0000" in response.json()["content"]
