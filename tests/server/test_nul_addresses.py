"""A NUL in an address (its path, or its query string as `%00` or the raw byte) is refused
once, ahead of every route, by server/middleware.py's NulRefusal: a 400 the way
server/errors.py answers any, JSON for the API and OAuth, a page for a browser. PostgreSQL
refuses a NUL in a text parameter (`/admin/accounts?q=%00` was a 500). Other control
characters stay each route's own check: the admin's search still answers a SOH (%01) with a 422."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import Message, Scope

from server.app import create_app
from server.middleware import NUL_IN_ADDRESS
from server.settings import Settings
from tests.support.accounts import log_in, make_account
from tests.support.instances import free_port
from tests.support.lifespan import app_lifespan

HTML = {"Accept": "text/html,application/xhtml+xml"}
H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
REFUSED = {"error": NUL_IN_ADDRESS, "code": "bad_request"}


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with app_lifespan(application):
        yield application


def _json_refusal(answer: httpx.Response) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json", answer.headers
    assert answer.json() == REFUSED


def _page_refusal(answer: httpx.Response) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("text/html"), answer.headers
    found = H1.findall(answer.text)
    assert [" ".join(heading.split()) for heading in found] == ["That request could not be read"]
    assert "NUL character" in answer.text
    assert "Back to the home page" in answer.text


@pytest.mark.parametrize(
    "address",
    [
        "/api/v1/instance?x=%00",
        "/api/v1/accounts/search?q=ann%00",
        "/api/v1/timelines/public?max_id=%00&limit=2",
        "/api/v2/search?q=%00",
        "/oauth/authorize?client_id=%00&response_type=code",
        "/.well-known/webfinger?resource=acct:ann%00@likewise.test",
    ],
)
async def test_a_nul_in_the_query_of_an_api_route_is_a_json_400(
    client: httpx.AsyncClient, address: str
) -> None:
    answer = await client.get(address)
    _json_refusal(answer)
    if address.startswith("/api/"):  # a browser client can read why (CORS is outside)
        assert answer.headers["access-control-allow-origin"] == "*"


async def test_a_nul_in_a_form_post_s_query_is_refused_before_the_body_is_read(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    answer = await client.post("/api/v1/statuses?x=%00", json={"status": "hello"})
    _json_refusal(answer)
    # The body was never read: the connection is closed rather than left to parse it
    assert answer.headers["connection"] == "close"


@pytest.mark.parametrize(
    "address", ["/@ann?page=%00", "/login?next=/%00", "/?x=a%00b", "/signup?locale=%00"]
)
async def test_a_nul_in_the_query_of_a_page_is_a_400_page(
    app: Starlette, client: httpx.AsyncClient, address: str
) -> None:
    await make_account(app, "ann")
    _page_refusal(await client.get(address, headers=HTML))
    # A client that asks for JSON gets JSON, as from any other error
    _json_refusal(await client.get(address, headers={"Accept": "application/json"}))


@pytest.mark.parametrize(
    "address", ["/admin/accounts?q=%00", "/admin/accounts?after=%00", "/admin/money?x=%00"]
)
async def test_a_nul_in_the_query_of_an_admin_page_is_a_400_page(
    app: Starlette, client: httpx.AsyncClient, address: str
) -> None:
    # Refused before anyone is asked to log in: the address itself is wrong
    _page_refusal(await client.get(address, headers=HTML))
    await make_account(app, "root1", admin=True)
    assert (await log_in(client, "root1")).status_code == 303
    _page_refusal(await client.get(address, headers=HTML))


async def test_other_control_characters_stay_the_route_s_own_check(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "root1", admin=True)
    assert (await log_in(client, "root1")).status_code == 303
    refused = await client.get("/admin/accounts?q=ann%01", headers=HTML)
    assert refused.status_code == 422, refused.status_code
    # A tab in search text is white space there, as a space is
    for address in ("/admin/accounts?q=ann", "/admin/accounts?q=ann%09"):
        assert (await client.get(address, headers=HTML)).status_code == 200, address


@pytest.mark.parametrize(
    ("method", "address", "page"),
    [
        ("GET", "/@ann%00", True),
        ("GET", "/@ann%00/support", True),
        ("GET", "/admin/accounts/ann%00", True),
        ("GET", "/tags/a%00b", True),
        ("GET", "/api/v1/accounts/1%00", False),
        ("GET", "/api/v1/accounts/lookup%00", False),
        ("POST", "/api/v1/statuses/%00/favourite", False),
        ("POST", "/users/ann%00/inbox", False),  # an inbox, served by DirectRoutes
        ("GET", "/users/%00", False),
    ],
)
async def test_a_nul_in_a_path_segment_is_a_400(
    app: Starlette, client: httpx.AsyncClient, method: str, address: str, page: bool
) -> None:
    await make_account(app, "ann")
    answer = await client.request(method, address, headers=HTML if page else {}, content=b"{}")
    if page:
        _page_refusal(answer)
    else:
        _json_refusal(answer)


def _scope(kind: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> Scope:
    """An ASGI scope as a server would make it, with a raw query string."""
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"likewise.test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("likewise.test", 80),
    }


async def _asgi(app: Starlette, path: str, query: bytes, accept: bytes) -> dict[str, Any]:
    """One GET straight through the ASGI interface: a raw query string no client would send."""
    sent: list[Message] = []
    scope = _scope("http", path, query, [(b"accept", accept)])
    scope["method"] = "GET"

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body}


async def test_a_raw_nul_byte_in_the_query_or_path_is_refused_too(app: Starlette) -> None:
    for path, query in (
        ("/api/v1/instance", b"x=\x00"),
        ("/api/v1/accounts/search", b"q=a\x00b"),
        ("/api/v1/accounts/\x00", b""),
    ):
        answer = await _asgi(app, path, query, b"application/json")
        assert answer["status"] == 400, answer
        assert answer["headers"][b"content-type"] == b"application/json"
        assert answer["body"] == b'{"error":"%s","code":"bad_request"}' % NUL_IN_ADDRESS.encode()
    page = await _asgi(app, "/admin/accounts", b"q=\x00", b"text/html")
    assert page["status"] == 400 and page["headers"][b"content-type"].startswith(b"text/html")


async def test_a_nul_in_a_streaming_websocket_s_query_closes_it_before_the_handshake(
    app: Starlette,
) -> None:
    sent: list[Message] = []
    scope = _scope("websocket", "/api/v1/streaming", b"stream=user&access_token=%00", [])
    scope["subprotocols"] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("/api/v1/instance", 200),
        ("/api/v1/instance?x=100%25", 200),
        ("/api/v1/instance?x=%2500", 200),  # a percent sign then "00": no NUL
        ("/api/v1/instance?x=%0A", 200),  # other controls are not refused here
        ("/@ann", 200),
        ("/@ann?x=%2500", 200),
        ("/@nobody", 404),
        ("/api/v1/accounts/lookup?acct=nobody", 404),
    ],
)
async def test_an_ordinary_request_is_unaffected(
    app: Starlette, client: httpx.AsyncClient, address: str, status: int
) -> None:
    await make_account(app, "ann")
    answer = await client.get(address)
    assert answer.status_code == status, (address, answer.text)
    assert "NUL" not in answer.text


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, lifespan and all."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the instance did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_over_real_http_a_nul_is_a_400_and_never_a_500(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        _json_refusal(client.get("/api/v1/instance?x=%00"))
        _json_refusal(client.get("/api/v1/accounts/search?q=%00"))
        _json_refusal(client.post("/users/nobody%00/inbox", content=b"{}"))
        _page_refusal(client.get("/admin/accounts?q=%00", headers=HTML))
        _page_refusal(client.get("/@nobody%00", headers=HTML))
        answer = client.get("/api/v1/instance")
        assert answer.status_code == 200 and answer.json()["uri"]
