from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server.middleware import DirectRoutes


class Endpoint:
    """A bare ASGI endpoint that names itself, its route and its path parameters."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = ",".join(f"{k}={v}" for k, v in sorted(scope["path_params"].items()))
        text = f"{self.name} {scope['route'].path} {params}"
        await PlainTextResponse(text)(scope, receive, send)


async def below(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse(f"below {Request(scope).url.path}")(scope, receive, send)


ROUTES = [
    Route("/inbox", Endpoint("shared"), methods=["POST"]),
    Route("/users/{username}/inbox", Endpoint("user"), methods=["POST"]),
]


async def _answer(method: str, path: str, root_path: str) -> str:
    transport = httpx.ASGITransport(app=DirectRoutes(below, ROUTES), root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as client:
        return (await client.request(method, root_path + path)).text


@pytest.mark.parametrize(
    ("method", "path", "root_path", "answer"),
    [
        ("POST", "/inbox", "", "shared /inbox "),
        ("POST", "/users/alice/inbox", "", "user /users/{username}/inbox username=alice"),
        ("POST", "/inbox", "/likewise", "shared /inbox "),
        ("GET", "/inbox", "", "below /inbox"),
        ("POST", "/inbox/", "", "below /inbox/"),
        ("POST", "/outbox", "", "below /outbox"),
    ],
)
async def test_routes_are_served_here_and_the_rest_below(
    method: str, path: str, root_path: str, answer: str
) -> None:
    assert await _answer(method, path, root_path) == answer
