"""Hostile requests for the route fuzz test: path segments, query strings, headers and
bodies (JSON, forms, multipart, raw bytes) as hypothesis strategies.

A `Probe` is one request, drawn without knowing the running app; `tests/server/
test_fuzz_routes.py` fills in what only the app knows (the CSRF token, signatures)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

Json = Any

# Numbers a path id, an amount or a query limit should refuse or bound: past 64 bits, with
# more digits than int() takes, and digits that are not ASCII (str.isdigit() accepts them).
HOSTILE_NUMBERS = [
    "0",
    "-1",
    "1",
    "2",
    str(2**31),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    "9" * 40,
    "9" * 5000,
    "\uff11\uff10",
    "²",
    "٣",
    "1e3",
    "0x10",
    "01",
    " 1",
    "+1",
    "1.5",
    "NaN",
    "Infinity",
]
HOSTILE_TEXT = [
    *HOSTILE_NUMBERS,
    "",
    " ",
    "../",
    "..",
    "../../etc/passwd",
    "\x00",
    "a/b",
    "<script>alert(1)</script>",
    "'\"",
    "\\",
    "\u017f",
    "İ",
    "\u202e",
    "\ud7ff😀",
    "%",
    "a" * 3000,
    "@",
    "@bob@mastodon.test",
    "bob@mastodon.test",
    "@ann@likewise.test",
    "acct:ann@likewise.test",
    "acct:",
    "http://mastodon.test/users/bob",
    "http://mastodon.test/users/bob/statuses/1",
    "http://likewise.test/users/ann",
    "http://likewise.test/@carol/1",
    "http://user:pass@likewise.test/@ann",
    "https://user@mastodon.test/users/bob",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://127.0.0.1:1/",
    "http://[::1]/",
    "http://nowhere.invalid/x",
    "https://blog.example/a-post",
    "ann",
    "carol",
    "true",
    "null",
    "[]",
    "{}",
    "DE89 3704 0044 0532 0130 00",
    "EUR",
    "approve",
    "reject",
]
# Already percent-encoded: what a client may send that decodes to something odd.
RAW_SEGMENTS = ["%00", "%2e%2e", "..%2f", "%ff", "%c0%af", "%25", "%2F", "%zz", "%"]
RAW_QUERIES = [
    "%zz",
    "a=%00",
    "&&&=",
    "=",
    "resource=acct:%ff",
    "resource=acct:ann@likewise.test&resource=x",
    "limit=" + "9" * 5000,
    "q=" + "a" * 5000,
    "url=http%3A%2F%2Fuser%3Apass%40likewise.test%2F",
    "x" * 9000,
]
QUERY_NAMES = [
    "actor",
    "limit",
    "max_id",
    "min_id",
    "since_id",
    "next",
    "q",
    "resolve",
    "resource",
    "rel",
    "type",
    "uri",
    "url",
    "period",
    "page",
    "format",
]
FIELD_NAMES = [
    "action",
    "actor",
    "amount",
    "anonymous",
    "bic",
    "credit_limit",
    "display_name",
    "domain",
    "email",
    "handle",
    "iban",
    "in_reply_to_id",
    "login",
    "monthly_budget",
    "name",
    "note",
    "password",
    "paused",
    "reason",
    "reference",
    "sensitive",
    "spoiler_text",
    "status",
    "undo",
    "uri",
    "url",
    "username",
    "visibility",
]
ACTIVITY_KEYS = ["@context", "id", "type", "actor", "object", "to", "cc", "published", "content"]
CONTENT_TYPES = [
    b"application/json",
    b"application/activity+json",
    b'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    b"application/json; charset=utf-16",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data",
    b"multipart/form-data; boundary=",
    b"multipart/form-data; boundary=zzz",
    b"text/plain",
    b"text/html",
    b"image/svg+xml",
    b"",
    b";;;",
    b"application/json; charset=\xff",
]
BAD_SIGNATURES = [
    b"garbage",
    b'keyId="",signature=""',
    b'keyId="http://mastodon.test/users/bob#main-key",algorithm="rsa-sha256",'
    b'headers="(request-target) host date digest",signature="AAAA"',
    b'keyId="http://nowhere.invalid/actor#key",headers="date",signature="!!!"',
    b'keyId="http://user:pass@mastodon.test/users/bob#main-key",headers="date",signature="AAAA"',
    b'keyId="http://likewise.test/users/ann#main-key",headers="date",signature="AAAA"',
    b'keyId="http://127.0.0.1:1/actor#key",headers="(request-target)",signature="AAAA"',
    b'keyId="' + b"a" * 3000 + b'",signature="AAAA"',
    b'keyId=",,,,,\\"',
]
BAD_DIGESTS = [
    b"SHA-256=",
    b"SHA-256=garbage",
    b"SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    b"MD5=abc",
    b"sha-512=" + b"A" * 88,
    b",,,",
]
BAD_DATES = [
    b"",
    b"yesterday",
    b"Thu, 01 Jan 1970 00:00:00 GMT",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"Mon, 32 Foo 2026 99:99:99 GMT",
]
OTHER_HEADERS = [
    (b"authorization", b"Bearer garbage"),
    (b"authorization", b"Bearer "),
    (b"authorization", b"Basic YW5uOnBhc3M="),
    (b"authorization", b"Bearer " + b"a" * 3000),
    (b"accept", b"text/html"),
    (b"accept", b"application/activity+json"),
    (b"accept", b"application/json"),
    (b"accept", b"*/*;q=\xff"),
    (b"accept-language", b"zz-ZZ;q=2, \xff"),
    (b"content-length", b"99999999999999999999999"),
    (b"content-length", b"-1"),
    (b"content-length", b"5"),
    (b"content-length", b"\xef\xbc\x91\xef\xbc\x90"),
    (b"cookie", b"likewise_session=garbage"),
    (b"cookie", b"likewise_session=" + b"a" * 4000),
    (b"host", b"evil.example"),
    (b"x-forwarded-for", b"1.2.3.4"),
    (b"x-csrf-token", b"garbage"),
    (b"origin", b"http://evil.example"),
    (b"if-none-match", b'"*"'),
]

header_bytes = st.binary(max_size=60).map(
    lambda raw: bytes(byte for byte in raw if byte >= 0x20 and byte != 0x7F)
)


def _text() -> st.SearchStrategy[str]:
    return st.sampled_from(HOSTILE_TEXT) | st.text(max_size=40)


hostile_text = _text()
hostile_ints = (
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30])
    | st.integers()
)
scalars = (
    st.none()
    | st.booleans()
    | hostile_ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)
amounts = st.fixed_dictionaries(
    {},
    optional={
        "value": st.sampled_from(HOSTILE_NUMBERS) | json_values,
        "currency": st.sampled_from(["EUR", "USD", "eur", "EURO", ""]) | json_values,
        "scale": st.sampled_from([2, 0, -1, 3, 2**63, "2", 2.0]) | json_values,
    },
)
field_values = json_values | amounts | st.sampled_from(HOSTILE_NUMBERS)
json_objects = st.dictionaries(
    st.sampled_from(FIELD_NAMES + ACTIVITY_KEYS), field_values, max_size=6
)
# Bodies a JSON parser should refuse with a clear 400 rather than fall over.
NASTY_JSON = [
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"9" * 5000,
    b'{"monthly_budget": ' + b"9" * 5000 + b"}",
    b'{"uri": "\xff\xfe"}',
    '{"uri": "x", "actor": "y"}'.encode("utf-16"),
    b'{"amount": NaN, "monthly_budget": Infinity}',
    b'{"a": 1, "a": 2}',
    b'"\\ud800"',
    b"",
    b"null",
    b"{",
]


@dataclass(frozen=True)
class Body:
    """A request body: raw bytes, or form fields to which the CSRF token may be added."""

    content_type: bytes | None
    raw: bytes = b""
    fields: tuple[tuple[str, str], ...] | None = None
    multipart: bool = False

    def encode(self, csrf: str | None) -> bytes:
        if self.fields is None:
            return self.raw
        fields = list(self.fields) + ([("csrf_token", csrf)] if csrf is not None else [])
        if self.multipart:
            return _multipart(fields)
        return urlencode(fields, quote_via=quote).encode()


BOUNDARY = "zzz"


def _multipart(fields: list[tuple[str, str]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode("utf-8", "surrogatepass")


form_fields = st.lists(
    st.tuples(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), hostile_text), max_size=6
).map(tuple)
json_bodies = st.builds(
    lambda value, content_type: Body(content_type, json.dumps(value).encode()),
    json_values,
    st.sampled_from(CONTENT_TYPES[:3]),
)
object_bodies = st.builds(
    lambda value, content_type: Body(content_type, json.dumps(value).encode()),
    json_objects,
    st.sampled_from(CONTENT_TYPES[:3]),
)
bodies = st.one_of(
    object_bodies,
    json_bodies,
    st.builds(Body, st.sampled_from(CONTENT_TYPES[:3]), st.sampled_from(NASTY_JSON)),
    st.builds(lambda fields: Body(CONTENT_TYPES[4], fields=fields), form_fields),
    st.builds(lambda fields: Body(CONTENT_TYPES[7], fields=fields, multipart=True), form_fields),
    st.builds(Body, st.sampled_from(CONTENT_TYPES) | st.none(), st.binary(max_size=300)),
    st.just(Body(CONTENT_TYPES[4], b"a=%zz&&=%ff&csrf_token")),
    st.just(Body(CONTENT_TYPES[5], b"--x\r\n")),
    st.just(Body(CONTENT_TYPES[7], b"--zzz\r\nContent-Disposition: form-data\r\n\r\n")),
    st.just(Body(CONTENT_TYPES[0], b" " * (1024 * 1024 + 1))),
)


@dataclass(frozen=True)
class Probe:
    """One hostile request to one route, before the running app's secrets are filled in."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: Body
    identity: str  # anonymous | token | session
    csrf: bool
    signed: bool = False
    settlement: dict[str, Json] | None = field(default=None, compare=False)

    def describe(self) -> str:
        body = self.body.encode("<csrf>" if self.csrf else None)
        query = f"?{_cut(self.query)}" if self.query else ""
        return (
            f"{self.method} {_cut(self.path)}{query} as {self.identity} "
            f"(csrf={self.csrf}, signed={self.signed}, settlement={self.settlement is not None})"
            f"\nheaders={[(name, _cut(value)) for name, value in self.headers]!r}"
            f"\nbody={_cut(body)!r}"
        )


def _cut(text: Any, limit: int = 200) -> Any:
    if len(text) <= limit:
        return text
    tail = f"…({len(text)} long)"
    return text[:limit] + (tail.encode() if isinstance(text, bytes) else tail)


PARAM = re.compile(r"{([a-zA-Z_]+)(?::([a-zA-Z_]+))?}")


def path_segments(existing: list[str]) -> st.SearchStrategy[str]:
    """A path parameter: a value the app knows, or a hostile one (encoded for the URL)."""
    return (
        st.sampled_from(existing)
        | (st.sampled_from(HOSTILE_TEXT) | st.text(min_size=1, max_size=30)).map(
            lambda text: quote(text, safe="")
        )
        | st.sampled_from(RAW_SEGMENTS)
    )


@st.composite
def paths(draw: st.DrawFn, template: str, existing: dict[str, list[str]]) -> str:
    def fill(match: re.Match[str]) -> str:
        return draw(path_segments(existing.get(match.group(1), ["1"])))

    path = PARAM.sub(fill, template)
    return path or "/"


queries = st.one_of(
    st.just(""),
    st.lists(
        st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=6), hostile_text), max_size=4
    ).map(lambda pairs: urlencode(pairs, quote_via=quote)),
    st.sampled_from(RAW_QUERIES),
)
extra_headers = st.lists(
    st.one_of(
        st.sampled_from(OTHER_HEADERS),
        st.tuples(st.just(b"signature"), st.sampled_from(BAD_SIGNATURES) | header_bytes),
        st.tuples(st.just(b"digest"), st.sampled_from(BAD_DIGESTS) | header_bytes),
        st.tuples(st.just(b"date"), st.sampled_from(BAD_DATES) | header_bytes),
        st.tuples(st.sampled_from([b"accept", b"content-type", b"user-agent"]), header_bytes),
    ),
    max_size=4,
).map(tuple)
