"""What every route gets before hypothesis explores: each classic bad value alone on an
otherwise good request; and settlement documents in their wire shapes, to be mutated."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from activitypub.settlement import SETTLEMENT_CONTEXT
from tests.server.fuzzing import (
    BAD_DATES,
    BAD_DIGESTS,
    BAD_SIGNATURES,
    CONTENT_TYPES,
    FIELD_NAMES,
    NASTY_JSON,
    PARAM,
    QUERY_NAMES,
    Body,
    Json,
    Probe,
    amounts,
    field_values,
)

CLASSIC_SEGMENTS = [
    str(2**63),
    str(2**64),
    "9" * 40,
    "9" * 5000,
    quote("\uff11\uff10"),
    quote("²"),
    "-1",
    "0",
    "..%2F",
    "%00",
    "%ff",
    "a" * 3000,
    quote("\u202e"),
]
CLASSIC_VALUES = [
    "",
    "\uff11\uff10",
    "²",
    str(2**63),
    "9" * 5000,
    "-1",
    "\x00",
    "a" * 3000,
    "http://user:pass@likewise.test/@ann",
    "http://nowhere.invalid/x",  # a remote the client names that cannot be reached
    "http://likewise.test/@nobody",  # a local URL for no one: answered here, never fetched
]
CLASSIC_QUERIES = [
    str(2**63),
    "\uff11\uff10",
    "-1",
    "\x00",
    "http://nowhere.invalid/x",
    "http://likewise.test/@nobody",
]
HUGE_NUMBER = "9" * 5000  # past int()'s 4300 digits; three at a time keep a URL under 16 KB
AMOUNT_FIELDS = ("amount", "monthly_budget", "credit_limit")


def _json_body(value: str) -> Body:
    fields: dict[str, Json] = {name: value for name in FIELD_NAMES}
    fields.update({name: {"value": value, "currency": "EUR", "scale": 2} for name in AMOUNT_FIELDS})
    return Body(CONTENT_TYPES[0], json.dumps(fields).encode())


def classic_bodies() -> list[tuple[str, Body]]:
    """(identity, body): every field at once set to a classic bad value, as a form (with
    the admin's session and CSRF token) and as JSON (with the admin's token); the nasty
    JSON; broken multipart."""
    forms = [
        ("session", Body(CONTENT_TYPES[4], fields=tuple((name, value) for name in FIELD_NAMES)))
        for value in CLASSIC_VALUES
    ]
    objects = [("token", _json_body(value)) for value in CLASSIC_VALUES]
    nasty = [("token", Body(CONTENT_TYPES[0], raw)) for raw in NASTY_JSON]
    multipart = [
        ("session", Body(CONTENT_TYPES[5], b"--x\r\n")),
        ("session", Body(CONTENT_TYPES[6], b"--\r\n")),
        ("session", Body(CONTENT_TYPES[7], b"--zzz\r\nContent-Disposition: form-data\r\n\r\n")),
    ]
    return forms + objects + nasty + multipart


def classic_probes(
    method: str,
    template: str,
    existing: dict[str, list[str]],
    inbox: bool,
    settlements: list[dict[str, Json]],
) -> list[Probe]:
    """The hostile inputs every route must refuse cleanly, one at a time on a request that
    is otherwise a good one (the admin's credentials, ids that exist)."""
    unsafe = method in {"POST", "PUT", "PATCH", "DELETE"}
    identity = "session" if unsafe else "token"
    empty = Body(CONTENT_TYPES[4], fields=()) if unsafe else Body(None)
    good = {name: values[0] for name, values in existing.items()}

    def probe(path: str, query: str = "", **changes: Any) -> Probe:
        fields: dict[str, Any] = {"body": empty, "identity": identity, "headers": ()}
        fields.update(changes)
        csrf = fields["identity"] == "session"
        return Probe(method, path, query, csrf=csrf, **fields)

    def filled(name: str | None = None, value: str = "") -> str:
        def fill(match: re.Match[str]) -> str:
            return value if match.group(1) == name else good.get(match.group(1), "1")

        return PARAM.sub(fill, template)

    path = filled()
    activity = Body(
        CONTENT_TYPES[1], b'{"type": "Like", "actor": "http://mastodon.test/users/bob"}'
    )
    probes = [
        probe(filled(name, value))
        for name, _ in PARAM.findall(template)
        for value in CLASSIC_SEGMENTS
    ]
    probes += [
        probe(path, urlencode([(name, value) for name in QUERY_NAMES], quote_via=quote))
        for value in CLASSIC_QUERIES
    ]
    probes += [
        probe(path, urlencode([(name, HUGE_NUMBER) for name in QUERY_NAMES[start : start + 3]]))
        for start in range(0, len(QUERY_NAMES), 3)
    ]
    if unsafe:
        probes += [probe(path, identity=who, body=body) for who, body in classic_bodies()]
    if inbox:
        probes += [
            probe(path, identity="anonymous", signed=True, body=activity, headers=(header,))
            for header in [
                (b"digest", BAD_DIGESTS[2]),
                (b"date", BAD_DATES[2]),
                (b"signature", BAD_SIGNATURES[2]),
                (b"content-type", b"text/plain"),
                (b"content-length", b"99999999999999999999999"),
                (b"host", b"evil.example"),
            ]
        ]
    probes += [
        probe(path, identity="anonymous", signed=True, body=activity, settlement=document)
        for document in settlements
    ]
    return probes


def settlement_templates(actor: str, recipient: str) -> list[dict[str, Json]]:
    """One document of each settlement kind in its documented wire shape, unsigned."""
    amount = {"value": "500", "currency": "EUR", "scale": 2}
    batch_id = f"{recipient.rsplit('/', 1)[0]}/settlements/1"

    def envelope(kind: str, **rest: Json) -> dict[str, Json]:
        return {
            "@context": SETTLEMENT_CONTEXT,
            "id": f"{actor}/settlement/{kind}",
            "type": kind,
            "actor": actor,
            "to": [recipient],
            "published": "2026-11-01T00:10:00Z",
            **rest,
        }

    line = {"creator": "http://likewise.test/users/carol", "amount": amount, "supporters": 1}
    agreement = {"type": "likewise:PeeringAgreement", "currency": "EUR", "creditLimit": amount}
    return [
        envelope(
            "Offer",
            object={
                "type": "likewise:SettlementBatch",
                "period": "2026-10",
                "sequence": 1,
                "currency": "EUR",
                "lines": [{**line, "clicks": [f"{actor}/clicks/1"]}],
                "total": amount,
            },
        ),
        envelope(
            "Accept",
            object=batch_id,
            result={
                "type": "likewise:SettlementReceipt",
                "batchDigest": "0" * 64,
                "lines": [{**line, "status": "accepted"}],
                "acceptedTotal": amount,
                "rejectedTotal": {**amount, "value": "0"},
            },
        ),
        envelope(
            "Reject",
            object=batch_id,
            result={"type": "likewise:SettlementRefusal", "reason": "not_a_peer"},
        ),
        envelope(
            "Offer",
            object={
                "type": "likewise:Payment",
                "amount": amount,
                "reference": "SEPA-1",
                "settles": [],
            },
        ),
        envelope(
            "Accept",
            object=f"{recipient}/payments/1",
            result={"type": "likewise:PaymentConfirmation", "amount": amount, "reference": "R"},
        ),
        envelope(
            "Reject",
            object=f"{recipient}/payments/1",
            result={
                "type": "likewise:PaymentRefusal",
                "reason": "amount_mismatch",
                "expected": amount,
                "notified": amount,
                "difference": amount,
            },
        ),
        envelope("Offer", object=agreement),
        envelope("Accept", object=f"{recipient}/peering/1", result=agreement),
        envelope(
            "Reject",
            object=f"{recipient}/peering/1",
            result={"type": "likewise:PeeringRefusal", "reason": "not_interested"},
        ),
    ]


def _places(document: Json, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every key path inside a document (where a mutation may land)."""
    found: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _places(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _places(value, (*prefix, index))
    return found


@st.composite
def settlement_documents(draw: st.DrawFn, templates: list[dict[str, Json]]) -> dict[str, Json]:
    """A settlement document with a few of its values replaced, removed, or added to."""
    document: dict[str, Json] = json.loads(json.dumps(draw(st.sampled_from(templates))))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        places = _places(document)
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent: Json = document
        for key in place[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[place[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8) | st.sampled_from(FIELD_NAMES))] = draw(field_values)
        else:
            parent[place[-1]] = draw(field_values | amounts)
    return document
