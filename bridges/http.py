"""Every request a network module makes goes through one `Fetcher`: around the instance's own
`httpx.AsyncClient`, it refuses addresses we must not call (SSRF guard), reads at most
`max_bytes` of an answer (streamed), bounds the time of each request, parses JSON objects,
turns HTTP answers into the library's errors and reads the rate-limit headers.

Statuses become errors here, in one place: 401 (and 403 with a token) is `TokenExpired` when
the answer says "expired", else `TokenRevoked`; 429 is `RateLimited` with the wait from
`Retry-After`, else from the reset header; 5xx, timeouts and connection failures are
`NetworkDown`; other unexpected statuses are `UnexpectedStatus` (a `BadPayload`).

Rate-limit headers: Mastodon sends `X-RateLimit-Limit`, `-Remaining` and `-Reset` (an ISO 8601
time); Bluesky sends `ratelimit-limit`, `-remaining` and `-reset` (Unix seconds). A small
number in a reset header is read as seconds from now (the IETF RateLimit draft's meaning).

Redirects are not followed: none of the calls we make is answered with one by a well-behaved
server, and a redirect is the usual way around an SSRF guard. Known gap, as in
`activitypub.client`: httpx resolves the host again when it connects (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from activitypub.client import Resolver, guard_url, read_limited, resolve_host
from activitypub.errors import BlockedAddress as ActivityPubBlocked
from activitypub.errors import FetchError, ResponseTooLarge
from bridges.base import RateInfo
from bridges.errors import (
    BadPayload,
    BlockedAddress,
    NetworkDown,
    RateLimited,
    TokenExpired,
    TokenRevoked,
    UnexpectedStatus,
)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 30.0
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 24 * 3600.0
MAX_URI_LENGTH = 2048
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class Fetched:
    """One answer: status, headers (lower-cased names), body and what it said of limits."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    rate: RateInfo

    def json_value(self) -> object:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError) as error:
            raise BadPayload(f"{self.url} did not answer JSON") from error

    def json_object(self) -> dict[str, object]:
        """The body as a JSON object (BadPayload when it is anything else)."""
        document = self.json_value()
        if not isinstance(document, dict):
            raise BadPayload(f"{self.url} did not answer a JSON object")
        return document

    def json_array(self) -> list[object]:
        """The body as a JSON array (BadPayload when it is anything else)."""
        document = self.json_value()
        if not isinstance(document, list):
            raise BadPayload(f"{self.url} did not answer a JSON array")
        return document

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadPayload(f"{self.url} did not answer UTF-8 text") from error


def is_loopback_host(host: str) -> bool:
    """Whether a host (name or address, with or without a port) is this machine."""
    name = urlsplit(f"//{host}").hostname or ""
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _reset_at(value: str, now: datetime) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if number != number or number < 0 or number > 10**11:  # NaN, negative, absurd
        return None
    if number >= 10**9:  # Unix seconds (Bluesky)
        return datetime.fromtimestamp(number, UTC)
    return now + timedelta(seconds=number)


def _integer(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def rate_info(headers: Mapping[str, str], now: datetime | None = None) -> RateInfo:
    """RateInfo from X-RateLimit-* (Mastodon, GitHub), X's x-rate-limit-* or Bluesky's
    ratelimit-* headers."""
    moment = now or datetime.now(UTC)
    lower = {name.lower(): value for name, value in headers.items()}

    def header(name: str) -> str | None:
        for prefix in ("x-ratelimit-", "x-rate-limit-", "ratelimit-"):
            if prefix + name in lower:
                return lower[prefix + name]
        return None

    reset = header("reset")
    return RateInfo(
        limit=_integer(header("limit")),
        remaining=_integer(header("remaining")),
        reset_at=_reset_at(reset, moment) if reset is not None else None,
    )


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float:
    """Seconds to wait after a 429: Retry-After (seconds or an HTTP date), else the reset
    header, else a minute; never under a second nor over a day."""
    moment = now or datetime.now(UTC)
    lower = {name.lower(): value for name, value in headers.items()}
    wait: float | None = None
    value = lower.get("retry-after", "").strip()
    if value:
        try:
            wait = float(value)
        except ValueError:
            try:
                wait = (parsedate_to_datetime(value) - moment).total_seconds()
            except (TypeError, ValueError):
                wait = None
    if wait is None or wait != wait:
        reset_at = rate_info(lower, moment).reset_at
        wait = (reset_at - moment).total_seconds() if reset_at else DEFAULT_RETRY_AFTER
    return min(max(wait, 1.0), MAX_RETRY_AFTER)


def _error_text(body: bytes, headers: Mapping[str, str]) -> str:
    text = headers.get("www-authenticate", "")
    try:
        document = json.loads(body[:4096])
    except (ValueError, RecursionError):
        return text
    if isinstance(document, dict):
        for key in ("error", "error_description", "message"):
            value = document.get(key)
            if isinstance(value, str):
                text += " " + value
    return text


class Fetcher:
    """Guarded JSON over the caller's client. One per network module instance."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        allow_private: bool = False,
        user_agent: str = "Likewise",
        max_bytes: int = MAX_RESPONSE_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        resolver: Resolver = resolve_host,
    ) -> None:
        self.http = http
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.resolver = resolver

    async def check_url(self, url: str) -> None:
        """Refuse a URL by its scheme, its form, or any address its host resolves to: the
        instance's one SSRF guard (activitypub.client.guard_url), http only in dev mode."""
        try:
            await guard_url(
                url,
                allow_http=self.allow_private,
                allow_private=self.allow_private,
                resolver=self.resolver,
            )
        except ActivityPubBlocked as error:
            raise BlockedAddress(str(error)) from error
        except FetchError as error:
            raise NetworkDown(str(error)) from error

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        token: str = "",
        accept: str = "application/json",
        expect: tuple[int, ...] = (200,),
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        return await self.request(
            "GET", url, params=params, token=token, accept=accept, expect=expect, headers=headers
        )

    async def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        token: str = "",
        expect: tuple[int, ...] = (200,),
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        return await self.request(
            "POST", url, form=form, token=token, expect=expect, headers=headers
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        token: str = "",
        accept: str = "application/json",
        expect: tuple[int, ...] = (200,),
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """One guarded request; an answer outside `expect` raises (see the module doc).
        `headers` adds to (or replaces) ours: an OAuth 1.0a signature, Basic client auth."""
        await self.check_url(url)
        sent = {"Accept": accept, "User-Agent": self.user_agent}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        authorized = bool(token) or "Authorization" in sent
        try:
            request = self.http.build_request(
                method, url, params=params, data=form, headers=sent, timeout=self.timeout
            )
        except (httpx.InvalidURL, ValueError, TypeError) as error:
            raise BlockedAddress(f"invalid request to {url!r}: {error}") from error
        try:
            async with asyncio.timeout(self.total_timeout):
                fetched = await self._send(request)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise NetworkDown(f"{method} {url} timed out") from error
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            raise NetworkDown(f"{method} {url} failed: {error}") from error
        return self._checked(fetched, expect, authorized)

    async def _send(self, request: httpx.Request) -> Fetched:
        response = await self.http.send(request, stream=True, follow_redirects=False)
        try:
            body = await self._read_limited(response)
        finally:
            await response.aclose()
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Fetched(str(request.url), response.status_code, headers, body, rate_info(headers))

    async def _read_limited(self, response: httpx.Response) -> bytes:
        try:
            return await read_limited(response, self.max_bytes)
        except ResponseTooLarge as error:
            raise BadPayload(str(error)) from error

    def _checked(self, fetched: Fetched, expect: tuple[int, ...], authorized: bool) -> Fetched:
        status = fetched.status
        if status in expect:
            return fetched
        where = f"{fetched.url} answered {status}"
        if status == 429:
            raise RateLimited(f"{where} (rate limited)", retry_after(fetched.headers))
        if status >= 500:
            raise NetworkDown(where)
        if status == 401 or (status == 403 and authorized):
            said = _error_text(fetched.body, fetched.headers)
            if "expired" in said.lower():
                raise TokenExpired(f"{where}: {said.strip()}")
            raise TokenRevoked(f"{where}: {said.strip() or 'access refused'}")
        raise UnexpectedStatus(where, status)


def scheme_for(host: str, allow_private: bool) -> str:
    """https, except for this machine in dev/test mode (the fakes serve plain http)."""
    return "http" if allow_private and is_loopback_host(host) else "https"


def check_uri(value: object, what: str, allow_http: bool = False) -> str:
    """An absolute http(s) URI with a host, no credentials, spaces or dot segments."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URI_LENGTH:
        raise BadPayload(f"{what}: missing or oversized URI")
    try:
        parts = urlsplit(value)
    except ValueError as error:
        raise BadPayload(f"{what}: invalid URI {value[:80]!r}") from error
    schemes = ("https", "http") if allow_http else ("https",)
    segments = parts.path.split("/")
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or parts.username is not None
        or any(char.isspace() or ord(char) < 32 or char == "\\" for char in value)
        or "." in segments
        or ".." in segments
    ):
        raise BadPayload(f"{what}: URI refused {value[:80]!r}")
    return value
