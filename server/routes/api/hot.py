"""The client API's hottest routes, matched first.

Starlette's router tries its routes in order; the home timeline, a favourite, the
notifications and `verify_credentials` (every app's start) came after some 90 to 140 other
routes, each a regular expression tried per request. Moved to the front they match at
once. Only routes no earlier route could match are moved (tests/social/test_hot_routes.py
checks it), so every request still reaches the route it reached before.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Route

HOT = (
    ("GET", "/api/v1/timelines/home"),
    ("POST", "/api/v1/statuses/{status_id}/favourite"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/accounts/verify_credentials"),
)


def is_hot(route: BaseRoute) -> bool:
    return isinstance(route, Route) and any(
        route.path == path and method in (route.methods or ()) for method, path in HOT
    )


def hot_first(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """`routes` with the hot ones first, in HOT's order; the others keep theirs."""
    hot = sorted(
        (route for route in routes if is_hot(route)),
        key=lambda route: [path for _, path in HOT].index(getattr(route, "path", "")),
    )
    return [*hot, *(route for route in routes if not is_hot(route))]
