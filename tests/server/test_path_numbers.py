"""Numbers in paths and queries: only ASCII digits, and none a BIGINT cannot hold. Anything
else is a clear 4xx, never a 500 (an OverflowError or ValueError deep in a handler)."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from server.routes import all_routes
from tests.support.accounts import csrf_from, log_in, make_account, make_token

# Past an id column (PostgreSQL's integer), past SQLite's, and past both by far.
TOO_LARGE = [str(2**31), str(2**63), "99999999999999999999"]
FULLWIDTH = "".join(chr(0xFF10 + d) for d in range(10))  # each passes str.isdigit()
ARABIC_INDIC = "".join(chr(0x0660 + d) for d in range(10))
SUPERSCRIPT = "\u2070\u00b9\u00b2\u00b3" + "".join(chr(0x2074 + d) for d in range(6))
NOT_ASCII = [FULLWIDTH[1] + FULLWIDTH[0], ARABIC_INDIC[1] + ARABIC_INDIC[2], SUPERSCRIPT[2]]
# A value for each non-numeric path parameter of the routes with an {…:int}.
PARAMS = {"username": "alice", "decision": "approve"}


def _int_routes() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        if isinstance(route, Route) and ":int}" in route.path:
            found += [
                (method, route.path) for method in sorted(set(route.methods or ()) - {"HEAD"})
            ]
    return found


INT_ROUTES = _int_routes()


def _url(path: str, number: str) -> str:
    def value(match: re.Match[str]) -> str:
        return number if match.group(2) == "int" else PARAMS[match.group(1)]

    return re.sub(r"\{(\w+)(?::(\w+))?\}", value, path)


def test_every_int_route_is_found() -> None:
    assert len({path for _, path in INT_ROUTES}) == 30


@pytest.mark.parametrize(("method", "path"), INT_ROUTES)
async def test_int_path_parameters_out_of_range_are_not_found(
    app: Starlette, client: httpx.AsyncClient, method: str, path: str
) -> None:
    # An admin's browser session with its CSRF token: every guard lets the request through
    # to the number.
    await make_account(app, "alice", admin=True)
    await log_in(client, "alice")
    csrf = csrf_from((await client.get("/money")).text)
    for number in TOO_LARGE + NOT_ASCII:
        response = await client.request(
            method,
            _url(path, number),
            data={"csrf_token": csrf} if method != "GET" else None,
            headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
        )
        assert response.status_code == 404, (number, response.text)


async def test_the_largest_id_a_route_takes_is_just_not_found(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    response = await client.get(f"/@alice/{2**31 - 1}")
    assert response.status_code == 404
    assert "no such" in response.text.lower() or "not found" in response.text.lower()


async def _status(app: Starlette, client: httpx.AsyncClient) -> tuple[str, str]:
    alice = await make_account(app, "alice")
    token = await make_token(app, alice)
    posted = await client.post(
        "/api/v1/statuses",
        json={"status": "hello"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert posted.status_code == 200, posted.text
    return token, posted.json()["id"]


def _spelled(status_id: str, spelled: str) -> str:
    """`status_id` in look-alike digits, or a number no id column holds."""
    if spelled == "past-int32":
        return str(2**31)
    if spelled == "eighteen-nines":
        return "9" * 18
    digits = {"fullwidth": FULLWIDTH, "arabic-indic": ARABIC_INDIC, "superscript": SUPERSCRIPT}
    return "".join(digits[spelled][int(d)] for d in status_id)


@pytest.mark.parametrize(
    "spelled", ["fullwidth", "arabic-indic", "superscript", "past-int32", "eighteen-nines"]
)
async def test_status_ids_are_ascii_digits_an_id_column_holds(
    app: Starlette, client: httpx.AsyncClient, spelled: str
) -> None:
    token, status_id = await _status(app, client)
    assert (await client.get(f"/api/v1/statuses/{status_id}")).status_code == 200
    other = _spelled(status_id, spelled)
    headers = {"Authorization": f"Bearer {token}"}
    for method, path in [
        ("GET", f"/api/v1/statuses/{other}"),
        ("DELETE", f"/api/v1/statuses/{other}"),
        ("POST", f"/api/v1/statuses/{other}/favourite"),
        ("POST", f"/api/v1/statuses/{other}/unfavourite"),
        ("POST", f"/api/v1/follow_requests/r{other}/authorize"),
        ("POST", f"/api/v1/follow_requests/{other}/reject"),
    ]:
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 404, (path, response.text)
    # Nothing was deleted through a look-alike id.
    assert (await client.get(f"/api/v1/statuses/{status_id}")).status_code == 200


@pytest.mark.parametrize("limit", [*NOT_ASCII, "ten", "-1", "1.5", str(2**63)])
async def test_a_timeline_limit_that_is_no_number_is_a_400(
    app: Starlette, client: httpx.AsyncClient, limit: str
) -> None:
    token, _ = await _status(app, client)
    response = await client.get(
        "/api/v1/timelines/home",
        params={"limit": limit},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400, response.text
    assert "limit" in response.json()["error"]


@pytest.mark.parametrize(("limit", "count"), [("1", 1), ("40", 2), ("500", 2), ("0", 1), ("", 2)])
async def test_a_timeline_limit_in_ascii_digits_is_taken_up_to_40(
    app: Starlette, client: httpx.AsyncClient, limit: str, count: int
) -> None:
    token, _ = await _status(app, client)
    headers = {"Authorization": f"Bearer {token}"}
    await client.post("/api/v1/statuses", json={"status": "again"}, headers=headers)
    response = await client.get("/api/v1/timelines/home", params={"limit": limit}, headers=headers)
    assert response.status_code == 200, response.text
    assert len(response.json()) == count
