"""Exceptions to responses, in one place: JSON for APIs and federation, HTML for people."""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from server.context import context
from server.domain_errors import Kind, ServiceError, ValidationFailed
from server.text_checks import holds_nul

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


# What a person reads on an error page: a title, and what they can do about it.
TITLES: dict[int, tuple[str, str]] = {
    400: ("That request could not be read", "Please go back and try again."),
    401: ("Please log in", "This page is for people with an account here."),
    403: ("You cannot open this page", "If you think you should, ask this instance's admin."),
    404: ("This page could not be found", "It may have been removed, or the address is wrong."),
    405: ("This page cannot do that", "Please go back and try again."),
    409: ("That clashes with what is already there", "Please go back and check."),
    413: ("That is too large", "Please send something smaller."),
    422: ("That did not work", "Please go back and try again."),
    429: (
        "Too many requests",
        "You sent many requests in a short time: wait a minute, then try again.",
    ),
    500: (
        "Something went wrong on our side",
        "It has been logged for the admin: please try again later.",
    ),
    502: ("We could not reach another server", "Please try again later."),
    503: ("This is not available right now", "Please try again in a few minutes."),
}
GENERIC_TITLE = ("Something did not work", "Please go back and try again.")

# A missing page, named after what the address points to.
MISSING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/@[^/]+/\d+(/.*)?$"), "This post could not be found"),
    (re.compile(r"^/@[^/]+(/support)?/?$"), "This profile could not be found"),
    (re.compile(r"^/tags/"), "This tag could not be found"),
    (re.compile(r"^/settings/imports/\d+"), "This import could not be found"),
    (re.compile(r"^/admin/money/bank/\d+"), "This bank statement could not be found"),
    (re.compile(r"^/admin/peers/"), "This peer instance could not be found"),
)

# Words from libraries and the operating system, and what they mean to a person.
UNREACHABLE = "We could not reach that server"
DEVELOPER_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"Name or service not known|nodename nor servname|name resolution|"
            r"No address associated|getaddrinfo|\[Errno -\d+\]"
        ),
        f"{UNREACHABLE}: no server answers to that name.",
    ),
    (
        re.compile(r"timed out|timeout", re.IGNORECASE),
        "That server took too long to answer.",
    ),
    (
        re.compile(r"CERTIFICATE_VERIFY_FAILED|SSL|certificate verify", re.IGNORECASE),
        f"{UNREACHABLE}: its secure connection could not be checked.",
    ),
    (
        re.compile(
            r"Connection refused|Connection reset|Network is unreachable|No route to host|"
            r"All connection attempts failed|ConnectError|RemoteProtocolError|"
            r"Server disconnected|\[Errno \d+\]|blocked address|not a public address"
        ),
        f"{UNREACHABLE}.",
    ),
    (
        re.compile(r"(?:Client|Server) error '(\d{3})[^']*' for url"),
        "That server answered with an error ({0}).",
    ),
)
# A parser's position report ("Expecting value: line 1 column 1 (char 0)"), in brackets or
# after a colon: the file or answer could not be read, and where does not help a person.
PARSER_DETAIL = re.compile(
    r"(?:\s*\((?:[^()]|\([^()]*\))*\bline \d+,? column \d+(?:[^()]|\([^()]*\))*\)"
    r"|: (?:[^:]*: )?line \d+,? column \d+.*)$"
)
# The start of a message that names a step, not a thing a person asked for.
NO_PREFIX = re.compile(r"https?://|^could not fetch|^(GET|POST|PUT|DELETE) |Error\b|^\[")


def plain_message(message: str) -> str:
    """A message for a person: what a library or the operating system said (the resolver's
    "[Errno -2] Name or service not known", httpx's "Client error '404 Not Found' for url
    …", a parser's "line 1 column 1 (char 0)") becomes plain words, kept after the part
    of the message that says what was being done ("carla@example.org could not be found").
    Other messages are left as they are (pages capitalise their first letter)."""
    text = " ".join(message.split())
    for pattern, plain in DEVELOPER_WORDS:
        found = pattern.search(text)
        if found is None:
            continue
        words = plain.format(*found.groups())
        prefix = text.split(": ", 1)[0].strip().rstrip(".")
        if prefix == text or pattern.search(prefix) or NO_PREFIX.search(prefix):
            return words
        if " " not in prefix:  # a network's name: "Bluesky: we could not reach that server."
            return f"{prefix}: {words[0].lower()}{words[1:]}"
        return f"{prefix}. {words}"
    return PARSER_DETAIL.sub("", text)


def error_page(path: str, status: int, message: str) -> dict[str, str]:
    """The title and words of a browser's error page: the status's title (a missing post,
    profile or import by name), the error's own message where it says more than that."""
    title, advice = TITLES.get(status, GENERIC_TITLE)
    if status == 404:
        title = next((name for pattern, name in MISSING if pattern.match(path)), title)
    generic = not message or message.lower().startswith("no such ") or message in _PHRASES
    try:
        code = f"Error {status}: {HTTPStatus(status).phrase}"
    except ValueError:
        code = f"Error {status}"
    shown = "" if generic else plain_message(message)
    return {"title": title, "message": shown, "advice": advice, "code": code}


_PHRASES = {"Not Found", "Method Not Allowed", "Internal Server Error", "Forbidden", "Unauthorized"}


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
        {"status": status, **error_page(conn.url.path, status, message)},
        status_code=status,
    )
    return response


def login_redirect(conn: HTTPConnection) -> Response:
    """The log-in page, which comes back to this page (its path and query) once logged in."""
    query = conn.url.query
    here = f"{conn.url.path}?{query}" if query else conn.url.path
    return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)


async def handle_service_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ServiceError):
        raise exc
    # A person's browser opening a page that needs a log-in goes to the log-in page; a
    # form sent without one (nowhere to come back to) and the APIs answer 401.
    if exc.kind is Kind.unauthorized and request.method in ("GET", "HEAD"):
        if not request.url.path.startswith(JSON_PREFIXES) and not wants_json(request):
            return login_redirect(request)
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
    try:
        return error_response(request, 500, "")
    except Exception:  # the page itself failed (its database, say): a page without the layout
        log.exception("event=error_page_failed path=%s", request.url.path)
        return bare_error_page(500)


def bare_error_page(status: int) -> Response:
    """The status's title and advice on a page without the layout: when the page with the
    layout could not be made."""
    title, advice = TITLES.get(status, GENERIC_TITLE)
    return HTMLResponse(
        f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{advice}</p>", status
    )


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
        return holds_nul(value)
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False
