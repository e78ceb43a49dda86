"""A 405 lists every method of its path, also where each method has a route of its own."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/api/v1/likewise/budget", "GET, HEAD, POST, PUT"),
        ("DELETE", "/api/v1/likewise/payouts", "GET, HEAD, POST"),
        ("PATCH", "/api/v1/likewise/claims", "GET, HEAD, POST"),
        ("PUT", "/api/v1/statuses/1", "DELETE, GET, HEAD"),
        ("GET", "/inbox", "POST"),
    ],
)
async def test_405_names_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["code"] == "http_error"
