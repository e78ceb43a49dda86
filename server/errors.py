"""Exceptions to responses, in one place: JSON for APIs and federation, HTML for people."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match, Route

from server.context import context
from server.domain_errors import Kind, ServiceError, ValidationFailed

log = logging.getLogger("likewise.errors")

JSON_PREFIXES = ("/api/", "/oauth/", "/.well-known/", "/nodeinfo/", "/inbox", "/users/", "/actor")


STATUS: dict[Kind, int] = {
    Kind.bad_request: 400,
    Kind.invalid: 422,
    Kind.refused: 422,
    Kind.unauthorized: 401,
    Kind.forbidden: 403,
    Kind.not_found: 404,
    Kind.conflict: 409,
    Kind.too_large: 413,
    Kind.upstream: 502,
    Kind.unavailable: 503,
}


def status_of(error: ServiceError | Kind) -> int:
    """The HTTP status that answers a domain error (or a kind of one)."""
    return STATUS[error if isinstance(error, Kind) else error.kind]


# Failures only the HTTP edge meets: the body as sent, before any domain code reads it.


class BadRequest(ServiceError):
    kind = Kind.bad_request
    code = "bad_request"


class BodyTooLarge(ServiceError):
    kind = Kind.too_large
    code = "body_too_large"


def wants_json(conn: HTTPConnection) -> bool:
    accept = conn.headers.get("accept", "")
    if "text/html" in accept:
        return False
    return conn.url.path.startswith(JSON_PREFIXES) or "json" in accept or not accept


def error_response(
    conn: HTTPConnection,
    status: int,
    message: str,
    *,
    code: str = "error",
    field: str | None = None,
) -> Response:
    if wants_json(conn):
        body: dict[str, Any] = {"error": message, "code": code}
        if field:
            body["field"] = field
        return JSONResponse(body, status_code=status)
    templates = context(conn).templates
    response: Response = templates.TemplateResponse(
        cast(Request, conn),
        "error.html",
        {"status": status, "message": message},
        status_code=status,
    )
    return response


async def handle_service_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ServiceError):
        raise exc
    return error_response(request, status_of(exc), exc.message, code=exc.code, field=exc.field)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise exc
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    response = error_response(request, exc.status_code, str(exc.detail), code="http_error")
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


def allowed_methods(conn: HTTPConnection) -> list[str]:
    """Every method the routes of this path accept. A path with a route per method (GET
    here, PUT there) would otherwise answer a 405 listing only the first route's methods."""
    methods: set[str] = set()
    for route in conn.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(conn.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


async def handle_server_error(request: Request, exc: Exception) -> Response:
    log.exception("event=unhandled_error path=%s", request.url.path, exc_info=exc)
    if wants_json(request):
        return JSONResponse({"error": "internal error", "code": "internal"}, status_code=500)
    return HTMLResponse("<h1>Something went wrong</h1>", status_code=500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ServiceError: handle_service_error,
    HTTPException: handle_http_exception,
    500: handle_server_error,
}


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    body = await request.body()
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise BadRequest("the body is not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # bad JSON or UTF-8, and numbers past int()'s 4300 digits
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    try:
        nul = b"\\u0000" in body and _holds_nul(data)  # JSON spells a NUL only so
    except RecursionError as exc:
        raise BadRequest("the body is not valid JSON: nested too deeply") from exc
    if nul:
        raise ValidationFailed("the body holds a NUL character")
    return data


def _holds_nul(value: Any) -> bool:
    """Whether a JSON value's strings (or keys) hold a NUL character: as for forms
    (server/auth.py refuse_nul), no text holds one and PostgreSQL refuses it (a 500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any("\x00" in key or _holds_nul(item) for key, item in value.items())
    return False
