"""Draft-cavage HTTP signatures, as Mastodon signs and verifies them.

The server parses the `Signature` header first (`parse_signature_header`) to learn
the keyId, looks the key up, then calls `verify_request`. A successful check
returns a frozen `VerifiedSignature`; every failure is a `SignatureError` whose
`reason` says why, so the caller can choose 401 or a key refetch. An inbox that must
authenticate a body before reading it calls `verify_headers` (the signature covers the
Digest header), then hashes the body as it streams in and compares (`check_digest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from activitypub.errors import InvalidKey, SignatureError, SignatureFailure
from activitypub.keys import load_private_key, load_public_key

SIGNED_HEADERS_GET = ("(request-target)", "host", "date")
SIGNED_HEADERS_POST = ("(request-target)", "host", "date", "digest")
ACCEPTED_ALGORITHMS = frozenset({"rsa-sha256", "hs2019"})
DEFAULT_MAX_SKEW = 3600
MAX_SIGNATURE_HEADER_LENGTH = 8192
# Stateless: one of each serves every verification.
PKCS1V15 = padding.PKCS1v15()
SHA256 = hashes.SHA256()

_F = SignatureFailure


# SignatureParams, VerifiedSignature and SignedMessage are made for every request an inbox
# verifies: as named tuples they cost a quarter of what frozen dataclasses do.
class SignatureParams(NamedTuple):
    """The parsed `Signature` header."""

    key_id: str
    algorithm: str | None
    headers: tuple[str, ...]
    signature: str
    created: int | None = None
    expires: int | None = None


class VerifiedSignature(NamedTuple):
    key_id: str
    algorithm: str
    signed_headers: tuple[str, ...]
    signed_at: datetime


def http_date(moment: datetime | None = None) -> str:
    """RFC 7231 IMF-fixdate, e.g. `Tue, 07 Jun 2022 20:51:35 GMT`."""
    return format_datetime((moment or datetime.now(UTC)).astimezone(UTC), usegmt=True)


def digest_header(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def _host_of(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"URL has no host: {url!r}")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return host, target


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return `headers` plus Host, Date, Digest (POST) and Signature."""
    host, target = _host_of(url)
    added = {"Host": host, "Date": http_date(now)}
    signed: tuple[str, ...] = SIGNED_HEADERS_GET
    if method.upper() == "POST":
        added["Digest"] = digest_header(body or b"")
        signed = SIGNED_HEADERS_POST
    replaced = {name.lower() for name in added} | {"signature"}
    result = {name: value for name, value in headers.items() if name.lower() not in replaced}
    result.update(added)
    values = {name.lower(): value for name, value in result.items()}
    lines = [
        f"(request-target): {method.lower()} {target}"
        if name == "(request-target)"
        else f"{name}: {values[name]}"
        for name in signed
    ]
    key = load_private_key(private_key_pem)
    raw = key.sign("\n".join(lines).encode("utf-8"), PKCS1V15, SHA256)
    signature = base64.b64encode(raw).decode("ascii")
    result["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",'
        f'headers="{" ".join(signed)}",signature="{signature}"'
    )
    return result


# Every parameter quoted, as Mastodon and most servers send them: what `_split_params_slowly`
# reads, found by one regex.
QUOTED_PARAMS = re.compile(r'(?:[ \t,]*[A-Za-z]+="[^"]*")*[ \t,]*')
QUOTED_PARAM = re.compile(r'([A-Za-z]+)="([^"]*)"')


def _split_params(value: str) -> dict[str, str]:
    """Split `k="v",k2=123` into a dict; commas inside quotes do not split."""
    if QUOTED_PARAMS.fullmatch(value):
        pairs = QUOTED_PARAM.findall(value)
        params = dict(pairs)
        if len(params) == len(pairs):
            return params
    return _split_params_slowly(value)


def _split_params_slowly(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    index, length = 0, len(value)
    while index < length:
        while index < length and value[index] in " \t,":
            index += 1
        if index >= length:
            break
        equals = value.find("=", index)
        if equals < 0:
            raise SignatureError(_F.MALFORMED, "Signature parameter without '='")
        name = value[index:equals].strip()
        index = equals + 1
        if index < length and value[index] == '"':
            end = value.find('"', index + 1)
            if end < 0:
                raise SignatureError(_F.MALFORMED, "unterminated quoted value")
            item, index = value[index + 1 : end], end + 1
        else:
            end = value.find(",", index)
            end = length if end < 0 else end
            item, index = value[index:end].strip(), end
        if not name or name in params:
            raise SignatureError(_F.MALFORMED, f"empty or repeated parameter {name!r}")
        params[name] = item
    return params


def _optional_int(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise SignatureError(_F.MALFORMED, f"{name} must be a Unix timestamp")
    return int(value)


def parse_signature_header(value: str) -> SignatureParams:
    """Parse a draft-cavage `Signature` header, so the key can be looked up by keyId."""
    if len(value) > MAX_SIGNATURE_HEADER_LENGTH:
        raise SignatureError(_F.MALFORMED, "Signature header too long")
    # Most senders put the signature last; what precedes it repeats for every request
    # signed by one key, so its parse is kept (`_params_before`).
    head, marker, tail = value.rpartition('signature="')
    signature, quote, rest = tail.partition('"')
    if marker and quote and signature and not rest.strip(" \t,"):
        before = _params_before(head)
        if before is not None:
            key_id, algorithm, headers, created, expires = before
            return SignatureParams(key_id, algorithm, headers, signature, created, expires)
    return _parse_params(_split_params(value))


_Before = tuple[str, str | None, tuple[str, ...], int | None, int | None]


@lru_cache(maxsize=1024)
def _params_before(head: str) -> _Before | None:
    """What `head + 'signature="…"'` parses to but the signature, when `head` is all quoted
    parameters (`QUOTED_PARAMS`) without a signature; else None (the full parse decides)."""
    if not QUOTED_PARAMS.fullmatch(head):
        return None
    pairs = QUOTED_PARAM.findall(head)
    params = dict(pairs)
    if len(params) != len(pairs) or "signature" in params:
        return None
    try:
        parsed = _parse_params({**params, "signature": "-"})
    except SignatureError:
        return None
    return parsed.key_id, parsed.algorithm, parsed.headers, parsed.created, parsed.expires


def _parse_params(params: Mapping[str, str]) -> SignatureParams:
    key_id = params.get("keyId")
    signature = params.get("signature")
    if not key_id:
        raise SignatureError(_F.MISSING_HEADER, "Signature has no keyId")
    if not signature:
        raise SignatureError(_F.MISSING_HEADER, "Signature has no signature")
    # Absent `headers` means `date` alone (draft-cavage; Mastodon does the same).
    headers = tuple(params.get("headers", "date").lower().split())
    return SignatureParams(
        key_id=key_id,
        algorithm=params.get("algorithm"),
        headers=headers,
        signature=signature,
        created=_optional_int(params, "created"),
        expires=_optional_int(params, "expires"),
    )


# Senders sign the same few header lists: the checks of a passing list are kept.
@lru_cache(maxsize=256)
def _check_params(method: str, algorithm: str | None, signed: tuple[str, ...]) -> str:
    checked = _check_algorithm(algorithm, signed)
    _check_signed_headers(method, signed)
    return checked


def _check_algorithm(given: str | None, signed: tuple[str, ...]) -> str:
    algorithm = (given or "rsa-sha256").lower()
    if algorithm not in ACCEPTED_ALGORITHMS:
        raise SignatureError(_F.UNSUPPORTED_ALGORITHM, f"algorithm {given!r}")
    pseudo = {"(created)", "(expires)"} & set(signed)
    if pseudo and algorithm != "hs2019":
        raise SignatureError(_F.MALFORMED, f"{sorted(pseudo)} only allowed with hs2019")
    return algorithm


def _check_signed_headers(method: str, signed: tuple[str, ...]) -> None:
    names = set(signed)
    if not names & {"date", "(created)"}:
        raise SignatureError(_F.INSUFFICIENT_HEADERS, "date or (created) must be signed")
    if not names & {"(request-target)", "digest"}:
        raise SignatureError(_F.INSUFFICIENT_HEADERS, "(request-target) or digest must be signed")
    if method in {"GET", "HEAD"} and "host" not in names:
        raise SignatureError(_F.INSUFFICIENT_HEADERS, "host must be signed on GET")
    if method == "POST" and "digest" not in names:
        raise SignatureError(_F.INSUFFICIENT_HEADERS, "digest must be signed on POST")


def claimed_digest(value: str | None) -> bytes:
    """The SHA-256 a `Digest` header says the body has, to compare once the body is read."""
    if value is None:
        raise SignatureError(_F.MISSING_HEADER, "Digest header is missing")
    for item in value.split(","):
        algorithm, _, encoded = item.strip().partition("=")
        if algorithm.lower() != "sha-256":
            continue
        try:
            received = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise SignatureError(_F.BAD_DIGEST, "Digest is not base64") from error
        if len(received) != hashlib.sha256().digest_size:
            raise SignatureError(_F.BAD_DIGEST, "Digest is not a SHA-256 value")
        return received
    raise SignatureError(_F.BAD_DIGEST, "Digest has no SHA-256 value")


def check_digest(value: str | None, computed: bytes) -> None:
    """Whether the `Digest` header `value` gives `computed`, the SHA-256 of the body as
    received (hashed while it streamed in)."""
    if value == "SHA-256=" + base64.b64encode(computed).decode("ascii"):
        return  # as senders write it; anything else is read item by item
    if not hmac.compare_digest(claimed_digest(value), computed):
        raise SignatureError(_F.BAD_DIGEST, "Digest does not match the body")


def _check_digest(value: str | None, body: bytes) -> None:
    check_digest(value, hashlib.sha256(body).digest())


def _signing_time(params: SignatureParams, headers: Mapping[str, str]) -> float:
    """When the request was signed (Unix time): `(created)` if signed, else the Date."""
    if "(created)" in params.headers:
        if params.created is None:
            raise SignatureError(_F.MALFORMED, "(created) signed but no created parameter")
        return float(params.created)
    date = headers.get("date")
    if date is None:
        raise SignatureError(_F.MISSING_HEADER, "Date header is missing")
    return _parse_date(date)


# Concurrent senders sign within the same few seconds: their Date values repeat.
@lru_cache(maxsize=256)
def _parse_date(date: str) -> float:
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError) as error:
        raise SignatureError(_F.MALFORMED, f"unparsable Date {date!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@lru_cache(maxsize=256)
def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _check_window(params: SignatureParams, signed: float, now: float, max_skew: int) -> None:
    """Times as Unix times: a `created` or `expires` far out of range is just out of the
    window, never a datetime overflow."""
    if signed < now - max_skew:
        raise SignatureError(_F.EXPIRED, f"signed {now - signed:.0f} s ago, too old")
    if signed > now + max_skew:
        raise SignatureError(_F.EXPIRED, f"signed {signed - now:.0f} s ahead, in the future")
    if params.expires is not None and "(expires)" in params.headers:
        if params.expires < now:
            raise SignatureError(_F.EXPIRED, "signature has expired")


def _signing_string(
    method: str, target: str, params: SignatureParams, headers: Mapping[str, str]
) -> bytes:
    lines = []
    for name in params.headers:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name == "(created)":
            value = str(params.created)
        elif name == "(expires)":
            if params.expires is None:
                raise SignatureError(_F.MALFORMED, "(expires) signed but no expires parameter")
            value = str(params.expires)
        elif name in headers:
            value = headers[name]
        else:
            raise SignatureError(_F.MISSING_HEADER, f"signed header {name!r} is missing")
        lines.append(f"{name}: {value}")
    return "\n".join(lines).encode("utf-8")


def verify_request(
    method: str,
    path_with_query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    public_key_pem: str,
    now: datetime | None = None,
    max_skew: int = DEFAULT_MAX_SKEW,
) -> VerifiedSignature:
    """Verify a draft-cavage signature by Mastodon's rules, or raise `SignatureError`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    header = lowered.get("signature")
    if header is None:
        raise SignatureError(_F.MISSING_HEADER, "Signature header is missing")
    request = SignedMessage(method, path_with_query, lowered, body)
    return verify_parsed(request, parse_signature_header(header), public_key_pem, now, max_skew)


class SignedMessage(NamedTuple):
    """What a signature covers. `headers` has lower-case names; `target` is path?query."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes | None


def verify_parsed(
    request: SignedMessage,
    params: SignatureParams,
    public_key_pem: str,
    now: datetime | None = None,
    max_skew: int = DEFAULT_MAX_SKEW,
) -> VerifiedSignature:
    """`verify_request` for a caller that already parsed the Signature header (to find
    the key) and holds the headers with lower-case names."""
    method = request.method.upper()
    _check_params(method, params.algorithm, params.headers)
    if "digest" in params.headers or method == "POST":
        _check_digest(request.headers.get("digest"), request.body or b"")
    return verify_headers(request, params, public_key_pem, now, max_skew)


def verify_headers(
    request: SignedMessage,
    params: SignatureParams,
    public_key_pem: str,
    now: datetime | None = None,
    max_skew: int = DEFAULT_MAX_SKEW,
) -> VerifiedSignature:
    """The signature over the headers alone, body unread: a POST's signed Digest header is
    then what the body must match (`claimed_digest`, `check_digest`), once it is read."""
    method = request.method.upper()
    algorithm = _check_params(method, params.algorithm, params.headers)
    signed = _signing_time(params, request.headers)
    _check_window(params, signed, time.time() if now is None else now.timestamp(), max_skew)
    message = _signing_string(method, request.target, params, request.headers)
    try:
        signature = base64.b64decode(params.signature, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError(_F.MALFORMED, "signature is not base64") from error
    try:
        key = load_public_key(public_key_pem)
    except InvalidKey as error:
        raise SignatureError(_F.INVALID_KEY, str(error)) from error
    try:
        key.verify(signature, message, PKCS1V15, SHA256)
    except InvalidSignature as error:
        raise SignatureError(_F.BAD_SIGNATURE, "signature does not verify") from error
    return VerifiedSignature(params.key_id, algorithm, params.headers, _utc(signed))
