"""Outgoing HTTP for ActivityPub: signed fetches and deliveries behind an SSRF guard.

The caller owns the `httpx.AsyncClient` (connection pool, proxies, test transport).
Before every request (and every redirect hop) the host is resolved and refused if
any address is private, loopback, link-local, multicast or reserved, unless
`allow_private` (dev mode). Known gap: httpx resolves the name again when it
connects, so a DNS answer that changes in between (rebinding) is not caught here;
an egress firewall or a resolving proxy closes that gap in production.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from activitypub.errors import (
    BlockedAddress,
    FetchError,
    FetchTimeout,
    IdMismatch,
    InvalidResponse,
    ResponseTooLarge,
    UnexpectedContentType,
    UnexpectedStatus,
)
from activitypub.jsonld import (
    ACTIVITY_JSON,
    FETCH_ACCEPT,
    JRD_JSON,
    is_activity_content_type,
    is_ld_json_content_type,
)
from activitypub.signatures import sign_request
from activitypub.webfinger import WebFingerResult, parse_acct, parse_jrd

MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 30.0
MAX_REDIRECTS = 3
DEFAULT_USER_AGENT = "Likewise"

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Signer:
    key_id: str
    private_key_pem: str


@dataclass(frozen=True)
class PostResult:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class _Fetched:
    url: str
    content_type: str | None
    body: bytes


async def resolve_host(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error}") from error
    return [str(info[4][0]) for info in infos]


def is_public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _parse_json(body: bytes, url: str) -> dict[str, object]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidResponse(f"{url} did not answer JSON") from error
    if not isinstance(document, dict):
        raise InvalidResponse(f"{url} did not answer a JSON object")
    return document


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


async def guard_url(
    url: str, *, allow_http: bool, allow_private: bool, resolver: Resolver = resolve_host
) -> None:
    """The SSRF guard every outgoing request of an instance passes (ActivityPub fetches and
    deliveries, the bridges' network calls): https only (http too with `allow_http`), a
    plain host without user info, and, unless `allow_private` (dev mode), only public
    addresses for it. BlockedAddress when refused; FetchError when the name does not resolve."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise BlockedAddress(f"invalid URL {url!r}") from error
    allowed = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in allowed:
        raise BlockedAddress(f"scheme {parts.scheme!r} refused for {url!r}")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise BlockedAddress(f"no plain host in {url!r}")
    if allow_private:
        return
    try:
        addresses = [str(ipaddress.ip_address(parts.hostname))]
    except ValueError:
        default_port = 443 if parts.scheme == "https" else 80
        addresses = await resolver(parts.hostname, port or default_port)
    if not addresses:
        raise FetchError(f"{parts.hostname} has no address")
    for address in addresses:
        if not is_public_address(address):
            raise BlockedAddress(f"{parts.hostname} resolves to non-public {address}")


async def read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    """A streamed response's body, refused (ResponseTooLarge) past `max_bytes`, whether it
    says so in Content-Length or only sends more."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise ResponseTooLarge(f"{response.url} announces {length} bytes (limit {max_bytes})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"{response.url} sent more than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class ActivityPubClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        allow_private: bool = False,
        allow_http: bool = False,
        max_bytes: int = MAX_RESPONSE_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
        resolver: Resolver = resolve_host,
    ) -> None:
        self.http = http
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.user_agent = user_agent
        self.resolver = resolver

    async def check_url(self, url: str) -> None:
        """Refuse a URL by scheme, or by any address its host resolves to."""
        await guard_url(
            url,
            allow_http=self.allow_http,
            allow_private=self.allow_private,
            resolver=self.resolver,
        )

    async def _read_limited(self, response: httpx.Response) -> bytes:
        return await read_limited(response, self.max_bytes)

    def _headers(self, accept: str) -> dict[str, str]:
        return {"Accept": accept, "User-Agent": self.user_agent}

    async def _get(self, url: str, accept: str, signer: Signer | None) -> _Fetched:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            await self.check_url(current)
            headers = self._headers(accept)
            if signer is not None:
                headers = sign_request(
                    "GET", current, headers, None, signer.key_id, signer.private_key_pem
                )
            request = self.http.build_request("GET", current, headers=headers, timeout=self.timeout)
            response = await self.http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                if not response.is_success:
                    raise UnexpectedStatus(response.status_code, current)
                body = await self._read_limited(response)
            finally:
                await response.aclose()
            return _Fetched(current, response.headers.get("content-type"), body)
        raise InvalidResponse(f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _guarded(self, work: Awaitable[_Fetched]) -> _Fetched:
        try:
            async with asyncio.timeout(self.total_timeout):
                return await work
        except (TimeoutError, httpx.TimeoutException) as error:
            raise FetchTimeout(f"request timed out: {error}") from error
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            raise FetchError(f"request failed: {error}") from error

    async def _fetch_document(
        self, url: str, signer: Signer | None
    ) -> tuple[str, dict[str, object]]:
        fetched = await self._guarded(self._get(url, FETCH_ACCEPT, signer))
        content_type = fetched.content_type
        if not (is_activity_content_type(content_type) or is_ld_json_content_type(content_type)):
            raise UnexpectedContentType(f"{fetched.url} answered {content_type!r}")
        return fetched.url, _parse_json(fetched.body, fetched.url)

    async def fetch(self, url: str, signer: Signer | None = None) -> dict[str, object]:
        """GET an ActivityPub document whose `id` is the URL it was served from.

        As Mastodon does, a document whose id differs but is on the same host is
        fetched once more by its id; that second answer must match exactly.
        """
        final_url, document = await self._fetch_document(url, signer)
        document_id = document.get("id")
        if document_id == final_url:
            return document
        if not isinstance(document_id, str) or _host(document_id) != _host(final_url):
            raise IdMismatch(f"{final_url} served a document with id {document_id!r}")
        final_url, document = await self._fetch_document(document_id, signer)
        if document.get("id") != final_url:
            raise IdMismatch(f"{final_url} served a document with id {document.get('id')!r}")
        return document

    async def post(
        self, inbox_url: str, body: bytes, signer: Signer, *, read_body: bool = False
    ) -> PostResult:
        """Deliver a signed POST; the status is returned, never raised (see delivery.py).
        With `read_body`, the answer's body (size-limited) is returned too."""
        await self.check_url(inbox_url)
        headers = self._headers(ACTIVITY_JSON)
        headers["Content-Type"] = ACTIVITY_JSON
        headers = sign_request(
            "POST", inbox_url, headers, body, signer.key_id, signer.private_key_pem
        )
        request = self.http.build_request(
            "POST", inbox_url, headers=headers, content=body, timeout=self.timeout
        )

        async def send() -> PostResult:
            response = await self.http.send(request, stream=True, follow_redirects=False)
            try:
                answer = await self._read_limited(response) if read_body else b""
            finally:
                await response.aclose()
            return PostResult(response.status_code, dict(response.headers), answer)

        try:
            async with asyncio.timeout(self.total_timeout):
                return await send()
        except (TimeoutError, httpx.TimeoutException) as error:
            raise FetchTimeout(f"POST {inbox_url} timed out") from error
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            raise FetchError(f"POST {inbox_url} failed: {error}") from error

    async def fetch_json(self, url: str) -> dict[str, object]:
        """GET a plain JSON document (NodeInfo, say), unsigned, with the same guards."""
        fetched = await self._guarded(self._get(url, "application/json", None))
        return _parse_json(fetched.body, fetched.url)

    async def webfinger_lookup(self, handle: str, scheme: str = "https") -> WebFingerResult:
        """Resolve `user@domain` to its actor URL. The caller checks the subject if it cares."""
        user, domain = parse_acct(handle)
        query = urlencode({"resource": f"acct:{user}@{domain}"})
        url = f"{scheme}://{domain}/.well-known/webfinger?{query}"
        fetched = await self._guarded(self._get(url, f"{JRD_JSON}, application/json", None))
        return parse_jrd(_parse_json(fetched.body, fetched.url))
