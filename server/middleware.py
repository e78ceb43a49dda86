"""ASGI middleware: body size limit, no NUL in an address, one log line plus metrics per
request, CORS for the API."""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.metrics_core import Metric
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import BodyTooLarge, bare_error_page, error_response

access_log = logging.getLogger("likewise.access")
error_log = logging.getLogger("likewise.errors")


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` (or the limit `larger` sets for one exact path).

    An answer sent before the request's body was read to its end (a 413, or a 401 for an
    unsigned inbox POST whose body is never read) says `Connection: close`, and the server
    then closes the connection: what is left of the body would otherwise be read as the
    next request, or drained however long it is.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes) if self.larger else self.max_bytes
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
                if declared is not None and declared > limit:
                    await _send_too_large(send, limit)
                    return
                has_body = declared != 0
            elif name == b"transfer-encoding":
                has_body = True
        received = 0
        ended = not has_body

        async def limited() -> Message:
            nonlocal received, ended
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(f"the request body is larger than {limit} bytes")
            ended = ended or not message.get("more_body", False)
            return message

        async def send_closing(message: Message) -> None:
            if not ended and message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), CONNECTION_CLOSE]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, limited, send if ended else send_closing)


CONNECTION_CLOSE = (b"connection", b"close")


async def _send_too_large(send: Send, limit: int) -> None:
    body = b'{"error":"the request body is larger than %d bytes","code":"body_too_large"}' % limit
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                CONNECTION_CLOSE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


NUL_IN_ADDRESS = "the address holds a NUL character (%00), which no address here has"


POLICY_VIOLATION = 1008  # the WebSocket close code for a request that breaks the rules


class NulRefusal:
    """Refuses with a 400 a request whose address holds a NUL, once for every route: its
    path (which the server hands over percent-decoded) or its query string (as sent: a NUL
    is `%00` there, or the raw byte). No name, search or token holds one, and PostgreSQL
    refuses one in a text parameter (a 500). The answer is the one server/errors.py gives
    any 400: JSON (`{"error": …}`) for the API, OAuth and federation, a page for browsers.

    Other control characters stay each route's own check: some query values may hold one
    (a tab in search text). Cheap, as it runs on every request: the raw strings are searched
    before anything decodes them, a byte as an int (a memchr, ~20 ns); `b"%00" in query`
    would cost ~0.3 µs on Python 3.11 (it tries the needle as an int first and clears the
    TypeError), so `%00` is looked for only in a query that holds a `%` at all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            query = scope["query_string"]
            if (
                "\x00" in scope["path"]
                or 0 in query
                or (37 in query and query.find(b"%00") >= 0)  # 37: "%"
            ):
                if kind == "http":
                    await _refuse_nul(scope, receive, send)
                else:  # the streaming API: closed before the handshake (an HTTP 403)
                    await send({"type": "websocket.close", "code": POLICY_VIOLATION})
                return
        await self.app(scope, receive, send)


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    try:
        response = error_response(request, 400, NUL_IN_ADDRESS, code="bad_request")
    except Exception:  # the page could not be made (its layout, say): one without it
        error_log.exception("event=error_page_failed status=400")
        response = bare_error_page(400)
    await response(scope, receive, send)


REQUESTS = "likewise_http_requests"
DURATION = "likewise_http_request_duration_seconds"
DURATION_BUCKETS = Histogram.DEFAULT_BUCKETS
# Each bucket's `le` label as Prometheus writes it: "0.005", "1.0", "+Inf".
BUCKET_LABELS = tuple("+Inf" if bound == math.inf else repr(bound) for bound in DURATION_BUCKETS)


@dataclass
class _Requests:
    """What one (method, route, status) has served: a count, and durations by bucket."""

    created: float
    count: int = 0
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))


class Metrics:
    """Requests served and their durations, as the counter and histogram
    `likewise_http_requests` and `likewise_http_request_duration_seconds`.

    A request adds to plain numbers (~0.4 µs); the Prometheus families are made when
    scraped. Counter and Histogram children cost ~1.5 µs a request: a lock per increment,
    the bucket searched in Python.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.served: dict[tuple[str, str, int], _Requests] = {}
        self.registry.register(self)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        served = self.served.get((method, route, status))
        if served is None:
            served = self.served[(method, route, status)] = _Requests(time.time())
        served.count += 1
        served.seconds += seconds
        served.buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1

    def describe(self) -> list[Metric]:
        return [Metric(REQUESTS, "HTTP requests served", "counter"), self._duration()]

    def collect(self) -> list[Metric]:
        requests = Metric(REQUESTS, "HTTP requests served", "counter")
        by_route: dict[tuple[str, str], list[_Requests]] = {}
        for (method, route, status), served in list(self.served.items()):
            labels = {"method": method, "route": route, "status": str(status)}
            requests.add_sample(REQUESTS + "_total", labels, served.count)
            requests.add_sample(REQUESTS + "_created", labels, served.created)
            by_route.setdefault((method, route), []).append(served)
        duration = self._duration()
        for (method, route), parts in by_route.items():
            _add_histogram(duration, {"method": method, "route": route}, parts)
        return [requests, duration]

    def _duration(self) -> Metric:
        return Metric(DURATION, "Time to answer HTTP requests", "histogram")


def _add_histogram(family: Metric, labels: dict[str, str], parts: list[_Requests]) -> None:
    """One route's histogram, summed over its statuses."""
    counts = [sum(counted) for counted in zip(*(part.buckets for part in parts), strict=True)]
    total = 0
    for bound, count in zip(BUCKET_LABELS, counts, strict=True):
        total += count
        family.add_sample(DURATION + "_bucket", {**labels, "le": bound}, total)
    family.add_sample(DURATION + "_count", labels, total)
    family.add_sample(DURATION + "_sum", labels, sum(part.seconds for part in parts))
    family.add_sample(DURATION + "_created", labels, min(part.created for part in parts))


ACCESS_FORMAT = "method=%s path=%s status=%d duration_ms=%.1f client=%s"


class AccessLog:
    """One `likewise.access` line per request, handed to `logging` once per turn of the
    event loop: `Logger.info` cost ~13 µs a line on the request path (caller lookup, a new
    record, a write and flush each). Here a turn's lines share one record, and a plain
    stream handler gets them in one write. Other handlers and filters see a record per line,
    as from `Logger.info`."""

    def __init__(self, logger: logging.Logger = access_log) -> None:
        self.logger = logger
        self.pending: list[tuple[float, tuple[object, ...]]] = []

    def add(self, args: tuple[object, ...]) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append((time.time(), args))

    def flush(self) -> None:
        entries, self.pending = self.pending, []
        logger = self.logger
        if not entries or not logger.isEnabledFor(logging.INFO):
            return
        pathname, lineno, func, _ = logger.findCaller()
        record = logger.makeRecord(
            logger.name, logging.INFO, pathname, lineno, ACCESS_FORMAT, (), None, func
        )
        handlers = _stream_handlers(logger)
        if handlers is None:
            for created, args in entries:
                logger.handle(_dated(copy.copy(record), created, args))
            return
        for handler in handlers:
            lines = _formatted(handler, record, entries)
            handler.acquire()
            try:
                handler.stream.write("".join(lines))
                handler.flush()
            except Exception:  # as StreamHandler.emit: report, never fail the caller
                handler.handleError(record)
            finally:
                handler.release()


def _stream_handlers(logger: logging.Logger) -> list[logging.StreamHandler[Any]] | None:
    """The handlers a record from `logger` reaches, if all are plain stream handlers
    without filters (the usual `basicConfig`); else None."""
    found: list[logging.StreamHandler[Any]] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if type(handler) is not logging.StreamHandler or handler.filters:
                return None
            if logging.INFO >= handler.level:
                found.append(handler)
        current = current.parent if current.propagate else None
    return found or None


_FORMATTING = frozenset({"format", "formatTime"})  # set on a formatter, they replace its own


def _formatted(
    handler: logging.StreamHandler[Any],
    record: logging.LogRecord,
    entries: list[tuple[float, tuple[object, ...]]],
) -> list[str]:
    """Each entry's line as `handler.format` writes it. A plain `logging.Formatter` gets the
    same steps, but its time stamp is made once a second: the converter and strftime cost
    ~1.2 µs a line."""
    formatter = handler.formatter
    if type(formatter) is not logging.Formatter or vars(formatter).keys() & _FORMATTING:
        return [handler.format(_dated(record, c, args)) + handler.terminator for c, args in entries]
    uses_time = formatter.usesTime()
    datefmt, msec_format = formatter.datefmt, formatter.default_msec_format
    seconds: dict[int, str] = {}
    lines = []
    for created, args in entries:
        _dated(record, created, args)
        record.message = record.getMessage()
        if uses_time:
            stamp = seconds.get(int(created))
            if stamp is None:
                moment = formatter.converter(created)
                stamp = time.strftime(datefmt or formatter.default_time_format, moment)
                seconds[int(created)] = stamp
            if not datefmt and msec_format:
                stamp = msec_format % (stamp, record.msecs)
            record.asctime = stamp
        lines.append(formatter.formatMessage(record) + handler.terminator)
    return lines


def _dated(
    record: logging.LogRecord, created: float, args: tuple[object, ...]
) -> logging.LogRecord:
    """`record` as if made at `created` for `args` (the fields LogRecord derives from time)."""
    record.relativeCreated += (created - record.created) * 1000
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    record.args = args
    return record


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = AccessLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.record(scope["method"], _route_template(scope), status, elapsed)
            client = scope.get("client") or ("-", 0)
            self.log.add((scope["method"], scope["path"], status, elapsed * 1000, client[0]))


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "(unmatched)"


class DirectRoutes:
    """Serve the given routes right here, skipping the layers below (session, authentication,
    exception handlers, router): for hot endpoints that need none of them and answer their
    own errors. Anything else goes on down the stack."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        # A route without parameters is found by its path at once (when no root_path applies).
        self.fixed = {
            route.path: route
            for route in routes
            if isinstance(route, Route) and not route.param_convertors and route.methods
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = None if scope.get("root_path") else self.fixed.get(scope["path"])
            if route is not None and scope["method"] in (route.methods or ()):
                scope["endpoint"], scope["route"] = route.endpoint, route
                scope["path_params"] = dict(scope.get("path_params", {}))
                await route.app(scope, receive, send)
                return
            for other in self.routes:
                match, child = other.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["route"] = other
                    await other.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)


# Mastodon's CORS (rack-cors): any origin, no cookies, on the API and the OAuth endpoints a
# browser client calls; never on pages such as /oauth/authorize.
CORS_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/", "/nodeinfo/")
CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_HEADERS = b"Authorization, Content-Type, Idempotency-Key"
CORS_EXPOSE = (
    b"Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id, "
    b"Idempotency-Key"
)
CORS_MAX_AGE = b"7200"
ALLOW_ORIGIN = (b"access-control-allow-origin", b"*")
EXPOSE = (b"access-control-expose-headers", CORS_EXPOSE)


class CorsMiddleware:
    """Answers preflight requests (OPTIONS with Access-Control-Request-Method) with a 204,
    and lets any origin read the answers of the API and OAuth endpoints."""

    def __init__(self, app: ASGIApp, prefixes: Sequence[str] = CORS_PREFIXES) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        requested = None
        if scope["method"] == "OPTIONS":
            headers = dict(scope["headers"])
            if b"access-control-request-method" in headers:
                requested = headers.get(b"access-control-request-headers", b"")
        if requested is not None:
            await _send_preflight(send, requested)
            return

        async def send_open(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                # A route that sends its own (WebFinger) keeps it; names come lower-cased.
                if any(name == ALLOW_ORIGIN[0] for name, _ in headers):
                    message["headers"] = [*headers, EXPOSE]
                else:
                    message["headers"] = [*headers, ALLOW_ORIGIN, EXPOSE]
            await send(message)

        await self.app(scope, receive, send_open)


async def _send_preflight(send: Send, requested: bytes) -> None:
    allowed = CORS_HEADERS + b", " + requested if requested.strip() else CORS_HEADERS
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                ALLOW_ORIGIN,
                (b"access-control-allow-methods", CORS_METHODS),
                (b"access-control-allow-headers", allowed),
                (b"access-control-max-age", CORS_MAX_AGE),
                (b"vary", b"Origin"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
