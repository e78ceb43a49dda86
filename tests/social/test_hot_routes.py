"""The client API's hottest routes are matched first, and each request still reaches the
route it reached in the routes' own order."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Route

from server.routes import all_routes
from server.routes.api.hot import HOT, hot_first, is_hot
from tests.support.accounts import bearer

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _sample(path: str) -> str:
    """A request path the route template matches."""
    return path.replace("{status_id}", "123")


def _scope(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def test_no_route_before_a_hot_one_could_match_its_requests() -> None:
    # With any method (a 405 names the first route matching the path), so moving the hot
    # routes first changes no request's route
    routes = all_routes()
    for method, path in HOT:
        place = next(i for i, r in enumerate(routes) if is_hot(r) and r.path == path)  # type: ignore[attr-defined]
        for earlier in routes[:place]:
            for any_method in METHODS:
                match, _ = earlier.matches(_scope(any_method, _sample(path)))
                assert match is Match.NONE, (method, path, getattr(earlier, "path", earlier))


def _first_full(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    for route in routes:
        if route.matches(_scope(method, path))[0] is Match.FULL:
            return route
    return None


def test_the_hot_routes_come_first_and_every_route_keeps_its_requests() -> None:
    routes = all_routes()
    ordered = hot_first(routes)
    assert [(m, r.path) for m, r in zip((m for m, _ in HOT), ordered, strict=False)] == list(HOT)  # type: ignore[attr-defined]
    assert len(ordered) == len(routes) and {id(r) for r in ordered} == {id(r) for r in routes}
    # Every route's own requests still reach it first (its template filled in)
    for route in routes:
        if not isinstance(route, Route) or "{" in route.path:
            continue
        for method in route.methods or ():
            assert _first_full(ordered, method, route.path) is _first_full(
                routes, method, route.path
            ), (method, route.path)


async def test_the_app_serves_the_hot_routes_from_the_front(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    assert [getattr(route, "path", "") for route in app.router.routes[: len(HOT)]] == [
        path for _, path in HOT
    ]
    ann = await bearer(app, "ann")
    for path in ("/api/v1/timelines/home", "/api/v1/notifications"):
        answer = await client.get(path, headers=ann)
        assert answer.status_code == 200 and answer.json() == [], path
    me = await client.get("/api/v1/accounts/verify_credentials", headers=ann)
    assert me.json()["username"] == "ann"
    missing = await client.post("/api/v1/statuses/123/favourite", headers=ann)
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = await client.delete("/api/v1/timelines/home", headers=ann)
    assert wrong.status_code == 405
