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
