"""Admin pages honour a token's scopes: an admin's token reads them only with `admin:read`
and changes something only with `admin:write`; the admin's browser session keeps both."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from server.routes import all_routes
from tests.support.accounts import log_in, make_account, make_token

# A value for each non-numeric path parameter of the admin routes.
PARAMS = {
    "domain": "peer.example",
    "action": "suspend",
    "decision": "confirm",
    "username": "nobody",
}


def _admin_routes() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        if isinstance(route, Route) and route.path.startswith("/admin"):
            found += [
                (method, route.path) for method in sorted(set(route.methods or ()) - {"HEAD"})
            ]
    return found


ADMIN_ROUTES = _admin_routes()
READS = [(method, path) for method, path in ADMIN_ROUTES if method == "GET"]
WRITES = [(method, path) for method, path in ADMIN_ROUTES if method != "GET"]


def _url(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        return "1" if kind == "int" else PARAMS[name]

    return re.sub(r"\{(\w+)(?::(\w+))?\}", value, path)


async def _ask(client: httpx.AsyncClient, method: str, path: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if method == "GET":
        return await client.get(_url(path), headers=headers)
    return await client.request(method, _url(path), headers=headers, data={})


async def _admin_token(app: Starlette, scopes: str) -> str:
    root = await make_account(app, "root1", admin=True)
    return await make_token(app, root, scopes)


def test_the_admin_routes_are_all_found() -> None:
    assert ("GET", "/admin/money") in READS and ("GET", "/admin/peers") in READS
    assert ("POST", "/admin/money/fund") in WRITES
    # 12, the bank pages' 7, the networks page, terms (2), accounts (3) and runs (3)
    assert len(ADMIN_ROUTES) == 28


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("scopes", ["read:statuses", "read write follow push profile"])
async def test_an_admins_token_without_admin_scopes_is_refused(
    app: Starlette, client: httpx.AsyncClient, method: str, path: str, scopes: str
) -> None:
    token = await _admin_token(app, scopes)
    response = await _ask(client, method, path, token)
    needed = "admin:read" if method == "GET" else "admin:write"
    assert response.status_code == 403, response.text
    assert needed in response.json()["error"]


async def test_a_read_statuses_token_does_not_read_the_ibans(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """The report: an admin's `read:statuses` token read /admin/money."""
    token = await _admin_token(app, "read:statuses")
    response = await client.get("/admin/money", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "Payouts" not in response.text and "IBAN" not in response.text


@pytest.mark.parametrize(("method", "path"), READS)
async def test_admin_read_reads_the_admin_pages(
    app: Starlette, client: httpx.AsyncClient, method: str, path: str
) -> None:
    token = await _admin_token(app, "admin:read")
    response = await _ask(client, method, path, token)
    # The statement of a peer, a bank import, an account, a run or a payout batch that does
    # not exist is a 404; every other page is there.
    missing = any(
        f"{{{name}" in path for name in ("domain", "import_id", "username", "job_id", "batch_id")
    )
    assert response.status_code == (404 if missing else 200), response.text


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_admin_read_does_not_change_anything(
    app: Starlette, client: httpx.AsyncClient, method: str, path: str
) -> None:
    token = await _admin_token(app, "read admin:read")
    response = await _ask(client, method, path, token)
    assert response.status_code == 403, response.text
    assert "admin:write" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_admin_write_reaches_the_admin_forms(
    app: Starlette, client: httpx.AsyncClient, method: str, path: str
) -> None:
    """Past the guard, each form answers for itself (here: empty forms, no such rows): a
    4xx of its own, never the scope's 403 nor a 500."""
    token = await _admin_token(app, "admin:read admin:write")
    response = await _ask(client, method, path, token)
    assert 400 <= response.status_code < 500, response.text
    if response.status_code == 403:
        assert "admin:" not in response.json()["error"]


async def test_admin_write_funds_a_wallet_without_a_browser(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    token = await _admin_token(app, "admin:read admin:write")
    await make_account(app, "ann")
    response = await client.post(
        "/admin/money/fund",
        headers={"Authorization": f"Bearer {token}"},
        data={"username": "ann", "amount": "12.50", "reference": "bank-1"},
    )
    assert response.status_code == 303, response.text  # post/redirect/get
    assert response.headers["location"] == "/admin/money"


async def test_an_admins_browser_session_keeps_reading_and_writing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "root1", admin=True)
    await make_account(app, "ann")
    await log_in(client, "root1")
    page = await client.get("/admin/money")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"username": "ann", "amount": "3", "reference": "r", "csrf_token": csrf.group(1)}
    funded = await client.post("/admin/money/fund", data=form)
    assert funded.status_code == 303
    assert "Credited" in (await client.get("/admin/money")).text
    assert (await client.get("/admin/peers")).status_code == 200


async def test_a_non_admins_token_is_refused_whatever_its_scopes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await make_account(app, "ann")
    token = await make_token(app, ann, "read write")
    response = await client.get("/admin/money", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
