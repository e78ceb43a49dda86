"""Serving a fake on loopback: the one pattern of tests/support/remote.py (`serving`: uvicorn
in a daemon thread on a free port), giving the fake's base URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from typing import Any, Protocol, Self, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.support.remote import serving


class Fake(Protocol):
    host: str

    def app(self) -> Starlette: ...


F = TypeVar("F", bound=Fake)


@contextmanager
def serve(fake: F) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 (its `host` becomes `127.0.0.1:<port>`); yields
    `http://127.0.0.1:<port>`."""
    with serving(fake) as running:
        yield f"http://{running.host}"


class Controlled:
    """The control endpoints every fake shares: `/_test/knobs` sets knobs by name (a name the
    fake's `knobs` dataclass lacks is a 422), `/_test/stats` counts requests, those answered
    429 and those that came past the limit (a client that does not wait)."""

    knobs: Any
    requests: int
    rate_limited: int
    over_limit: int

    async def _control_knobs(self, request: Request) -> Response:
        body = await request.json()
        names = {item.name for item in fields(self.knobs)}
        for name, value in body.items():
            if name not in names:
                return JSONResponse({"error": f"no knob {name}"}, status_code=422)
            setattr(self.knobs, name, value)
        return JSONResponse(asdict(self.knobs))

    async def _control_stats(self, request: Request) -> Response:
        counts = {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "over_limit": self.over_limit,
        }
        return JSONResponse(counts)


class Control:
    """A fake's control API from Python, over HTTP, for a fake served by another process
    too (a context manager: it keeps a connection)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=f"{base_url}/_test/", timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def knobs(self, **values: Any) -> dict[str, Any]:
        return self._post("knobs", values)

    def stats(self) -> dict[str, Any]:
        response = self.client.get("stats")
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer
