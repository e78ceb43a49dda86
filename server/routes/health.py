from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.context import context
from server.domain_errors import Forbidden
from server.templating import STATIC_DIR

FAVICON = STATIC_DIR / "favicon.svg"


async def healthz(request: Request) -> Response:
    try:
        await context(request).db.ping()
    except (SQLAlchemyError, OSError) as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok"})


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    token = context(request).settings.metrics_token
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    allowed = _is_loopback(request) or (
        bool(token) and hmac.compare_digest(token.encode(), presented.encode())
    )
    if not allowed:
        raise Forbidden("metrics are served to loopback clients or with the metrics token")
    body = generate_latest(context(request).metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever a page links: the SVG icon answers."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return FileResponse(FAVICON, media_type="image/svg+xml", headers=headers)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
]
