from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from server.context import context
from server.settings import Settings


async def test_healthz_checks_the_database(app: Starlette, client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    await context(app).db.dispose()
    # A database server that is down (asyncpg: no driver thread outlives the test).
    broken_url = "postgresql+asyncpg://postgres@127.0.0.1:9/unreachable"
    from server.db.engine import Database

    context(app).db = Database(broken_url)
    try:
        down = await client.get("/healthz")
    finally:
        await context(app).db.dispose()
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"


async def test_metrics_count_requests_for_loopback_clients(client: httpx.AsyncClient) -> None:
    await client.get("/")
    await client.get("/no-such-page")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'likewise_http_requests_total{method="GET",route="/",status="200"} 1.0' in text
    assert 'route="(unmatched)",status="404"' in text
    assert "likewise_http_request_duration_seconds_bucket" in text


async def _get_metrics(app: Starlette, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as c:
        return await c.get("/metrics", headers=headers)


async def test_metrics_refused_to_others_without_the_token(app: Starlette) -> None:
    assert (await _get_metrics(app, {})).status_code == 403


async def test_metrics_token_opens_them_to_others(settings: Settings) -> None:
    from server.app import create_app
    from tests.support.lifespan import app_lifespan

    app = create_app(settings.replace(metrics_token="s3cret-metrics"))
    async with app_lifespan(app):
        assert (await _get_metrics(app, {"Authorization": "Bearer wrong"})).status_code == 403
        ok = await _get_metrics(app, {"Authorization": "Bearer s3cret-metrics"})
    assert ok.status_code == 200


async def test_oversize_body_gets_413(app: Starlette, client: httpx.AsyncClient) -> None:
    limit = context(app).settings.max_body_bytes
    response = await client.post("/login", content=b"x" * (limit + 1))
    assert response.status_code == 413
    chunks = [b"x" * 65536] * (limit // 65536 + 2)

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    streamed = await client.post(
        "/login", content=stream(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413


async def test_the_instance_inbox_takes_settlement_sized_bodies(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    settings = context(app).settings
    body = b"x" * (settings.max_body_bytes * 2)
    assert (await client.post("/inbox", content=body)).status_code == 413
    # Not refused for its size: refused for its missing signature.
    assert (await client.post("/actor/inbox", content=body)).status_code == 401
    huge = b"x" * (settings.settlement_max_body_bytes + 1)
    assert (await client.post("/actor/inbox", content=huge)).status_code == 413
