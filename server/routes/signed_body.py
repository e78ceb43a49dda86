"""Signed POST bodies, read as the trust rules say: the HTTP signature is verified over the
headers first (it covers the Digest header), then the body is read under the limit that
applies to its signer, hashed as it comes in, and held to the Digest; only then may it be
parsed.

A body is never buffered beyond the ordinary limit (LIKEWISE_MAX_BODY_BYTES) unless it comes
where settlement documents arrive (the instance inbox) from an active peer's instance actor,
which may send up to LIKEWISE_SETTLEMENT_MAX_BODY_BYTES.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from activitypub.signatures import SignedMessage
from server.context import AppContext, context
from server.errors import BodyTooLarge
from server.federation.inbox import check_body, sends_settlement_sizes, verify_signed_headers


class SignedBody(NamedTuple):
    signer: str  # the URI of the actor whose key signed the request
    body: bytes  # as received: its SHA-256 is the one the signed Digest header gives


def _target(scope: Scope) -> str:
    """The request target as `request.url` spells it (path escaped, then the query)."""
    path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode()}" if query else path


def signed_message(scope: Scope, body: bytes | None) -> SignedMessage:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }
    return SignedMessage(scope["method"], _target(scope), headers, body)


async def read_signed_body(
    scope: Scope, receive: Receive, *, settlement: bool = False
) -> SignedBody:
    """The signer and body of a signed POST, or InboxRejected (401) / BodyTooLarge (413)
    before more than the signer's limit is read. `settlement`: active peers may send more."""
    app = context(scope["app"])
    request = signed_message(scope, None)
    signed = await verify_signed_headers(app.federation.remote, request)
    declared = request.headers.get("content-length")
    size = int(declared) if declared is not None and declared.isdigit() else None
    limit = app.settings.max_body_bytes
    if settlement and (size is None or size > limit):
        limit = await _limit(app, signed.signer, limit)
    if size is not None and size > limit:
        raise BodyTooLarge(f"the request body is larger than {limit} bytes")
    body, digest = await _read(receive, limit)
    check_body(signed, digest)
    return SignedBody(signed.signer, body)


async def _limit(app: AppContext, signer: str, ordinary: int) -> int:
    """The limit for what `signer` sends where settlement documents arrive."""
    larger = app.settings.settlement_max_body_bytes
    if larger > ordinary and await sends_settlement_sizes(app.db, signer):
        return larger
    return ordinary


async def _read(receive: Receive, limit: int) -> tuple[bytes, bytes]:
    """The body (up to `limit` bytes, else BodyTooLarge) and its SHA-256."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body = message.get("body", b"")  # in one piece, as most inbox bodies come
        if len(body) > limit:
            raise BodyTooLarge(f"the request body is larger than {limit} bytes")
        return body, hashlib.sha256(body).digest()
    chunks: list[bytes] = []
    hashed = hashlib.sha256()
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is larger than {limit} bytes")
        hashed.update(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), hashed.digest()
        message = await receive()
