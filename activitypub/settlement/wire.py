"""The JSON-LD context, the activity envelope and strict field readers shared by every document.

Every reader raises `SettlementError` naming the field; objects with keys outside
their known set are refused, so nothing that was signed goes uninterpreted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypedDict, TypeVar

from activitypub.builders import format_datetime
from activitypub.errors import InvalidActivity, SettlementError
from activitypub.jsonld import ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT
from activitypub.vocab import parse_uri

LIKEWISE_NAMESPACE = "https://likewise.social/ns#"

# `@type: @id` marks values that are IRIs; `@list` keeps line order meaningful.
LIKEWISE_TERMS: dict[str, object] = {
    "likewise": LIKEWISE_NAMESPACE,
    "period": "likewise:period",
    "sequence": "likewise:sequence",
    "currency": "likewise:currency",
    "lines": {"@id": "likewise:lines", "@container": "@list"},
    "creator": {"@id": "likewise:creator", "@type": "@id"},
    "amount": "likewise:amount",
    "value": "likewise:value",
    "scale": "likewise:scale",
    "supporters": "likewise:supporters",
    "clicks": {"@id": "likewise:clicks", "@type": "@id", "@container": "@set"},
    "total": "likewise:total",
    "status": "likewise:status",
    "reason": "likewise:reason",
    "batchDigest": "likewise:batchDigest",
    "acceptedTotal": "likewise:acceptedTotal",
    "rejectedTotal": "likewise:rejectedTotal",
    "reference": "likewise:reference",
    "settles": {"@id": "likewise:settles", "@type": "@id", "@container": "@set"},
    "expected": "likewise:expected",
    "notified": "likewise:notified",
    "difference": "likewise:difference",
    "creditLimit": "likewise:creditLimit",
}
SETTLEMENT_CONTEXT: list[object] = [
    ACTIVITYSTREAMS_CONTEXT,
    DATA_INTEGRITY_CONTEXT,
    LIKEWISE_TERMS,
]
OFFER_KEYS = frozenset({"@context", "id", "type", "actor", "to", "published", "object", "proof"})
ANSWER_KEYS = OFFER_KEYS | {"result"}
MAX_TEXT = 500
MAX_LIST = 1_000_000
HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")

Reason = TypeVar("Reason", bound=StrEnum)


class DocumentType(StrEnum):
    """The `type` of the embedded `object` (Offer) or `result` (Accept, Reject)."""

    SETTLEMENT_BATCH = "likewise:SettlementBatch"
    SETTLEMENT_RECEIPT = "likewise:SettlementReceipt"
    SETTLEMENT_REFUSAL = "likewise:SettlementRefusal"
    PAYMENT = "likewise:Payment"
    PAYMENT_CONFIRMATION = "likewise:PaymentConfirmation"
    PAYMENT_REFUSAL = "likewise:PaymentRefusal"
    PEERING_AGREEMENT = "likewise:PeeringAgreement"
    PEERING_REFUSAL = "likewise:PeeringRefusal"


def require_uri(value: object, name: str, *, http_only: bool = True) -> str:
    """`vocab.parse_uri` (with its fast path for plain http(s) URIs), as a SettlementError."""
    try:
        return parse_uri(value, name, http_only=http_only)
    except InvalidActivity as error:
        raise SettlementError(str(error)) from error


def require_object(value: object, name: str, allowed: frozenset[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise SettlementError(f"{name} must be a JSON object")
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise SettlementError(
            f"{name} has unknown keys: {', '.join(sorted(map(str, unknown)))[:200]}"
        )
    return value


def require_key(data: Mapping[str, object], key: str, name: str) -> object:
    if key not in data:
        raise SettlementError(f"{name}.{key} is missing")
    return data[key]


def require_int(value: object, name: str, minimum: int) -> int:
    if type(value) is not int or value < minimum or value > 2**53 - 1:
        raise SettlementError(f"{name} must be an integer from {minimum} to 2^53-1")
    return value


def require_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise SettlementError(f"{name} must be a non-empty string of at most {MAX_TEXT} chars")
    if any(ord(char) < 32 for char in value):
        raise SettlementError(f"{name} contains control characters")
    return value


def optional_text(data: Mapping[str, object], key: str, name: str) -> str | None:
    value = data.get(key)
    return None if value is None else require_text(value, f"{name}.{key}")


def require_list(value: object, name: str, *, non_empty: bool = True) -> list[object]:
    if not isinstance(value, list):
        raise SettlementError(f"{name} must be a list")
    if non_empty and not value:
        raise SettlementError(f"{name} must not be empty")
    if len(value) > MAX_LIST:
        raise SettlementError(f"{name} has more than {MAX_LIST} items")
    return value


def require_reason(value: object, name: str, reasons: type[Reason]) -> Reason:
    if isinstance(value, str):
        for reason in reasons:
            if reason.value == value:
                return reason
    allowed = ", ".join(reason.value for reason in reasons)
    raise SettlementError(f"{name} must be one of {allowed}")


def require_digest(value: object, name: str) -> str:
    if not isinstance(value, str) or not HEX_SHA256.fullmatch(value):
        raise SettlementError(f"{name} must be a lowercase hex SHA-256 digest")
    return value


def require_datetime(value: object, name: str) -> datetime:
    """A UTC time to the second, spelt `2026-11-01T00:10:00Z` (the only form we sign)."""
    if not isinstance(value, str) or not UTC_SECONDS.fullmatch(value):
        raise SettlementError(f"{name} must be a UTC date-time like 2026-11-01T00:10:00Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise SettlementError(f"{name} is not a valid date-time") from error


@dataclass(frozen=True)
class Envelope:
    """What every settlement activity has: its id, sender, single recipient and time."""

    id: str
    actor: str
    recipient: str
    published: datetime

    def __post_init__(self) -> None:
        require_uri(self.id, "id")
        require_uri(self.actor, "actor")
        require_uri(self.recipient, "to")
        if self.actor == self.recipient:
            raise SettlementError("actor and recipient must be different instance actors")
        if not isinstance(self.published, datetime) or self.published.tzinfo is None:
            raise SettlementError("published must be a time-zone-aware datetime")
        # Seconds precision in UTC, as on the wire, so a parsed document equals its source.
        normalized = self.published.astimezone(UTC).replace(microsecond=0)
        object.__setattr__(self, "published", normalized)


class EnvelopeFields(TypedDict):
    id: str
    actor: str
    recipient: str
    published: datetime


def envelope_fields(envelope: Envelope) -> EnvelopeFields:
    """The envelope as keyword arguments for any document dataclass (`Doc(**fields, ...)`)."""
    return EnvelopeFields(
        id=envelope.id,
        actor=envelope.actor,
        recipient=envelope.recipient,
        published=envelope.published,
    )


def check_answers(answer: Envelope, question: Envelope, what: str) -> None:
    """An answer goes from the question's recipient back to its sender."""
    if answer.actor != question.recipient or answer.recipient != question.actor:
        raise SettlementError(f"an answer to a {what} goes from its recipient to its sender")


def rejection_json(
    envelope: Envelope,
    object_id: str,
    kind: DocumentType,
    reason: StrEnum,
    summary: str | None,
    details: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """A `Reject` of `object_id` whose result states the reason (and, optionally, more)."""
    document = envelope_json(envelope, "Reject")
    document["object"] = object_id
    result: dict[str, object] = {"type": kind.value, "reason": reason.value, **(details or {})}
    if summary is not None:
        result["summary"] = summary
    document["result"] = result
    return document


def envelope_json(envelope: Envelope, activity_type: str) -> dict[str, object]:
    return {
        "@context": copy.deepcopy(SETTLEMENT_CONTEXT),
        "id": envelope.id,
        "type": activity_type,
        "actor": envelope.actor,
        "to": [envelope.recipient],
        "published": format_datetime(envelope.published),
    }


def _recipient(value: object) -> str:
    items = value if isinstance(value, list) else [value]
    if len(items) != 1:
        raise SettlementError("to must name exactly one recipient instance actor")
    return require_uri(items[0], "to")


def parse_envelope(data: object, activity_type: str) -> tuple[Envelope, Mapping[str, object]]:
    """Check the activity level (context, type, keys) and return its envelope and mapping.

    An Offer embeds its `object`; an Accept or Reject names the offer in `object` and
    carries its answer in `result`.
    """
    allowed = OFFER_KEYS if activity_type == "Offer" else ANSWER_KEYS
    document = require_object(data, "document", allowed)
    if require_key(document, "@context", "document") != SETTLEMENT_CONTEXT:
        raise SettlementError("@context is not the Likewise settlement context")
    if require_key(document, "type", "document") != activity_type:
        raise SettlementError(f"type must be {activity_type}")
    envelope = Envelope(
        id=require_uri(require_key(document, "id", "document"), "id"),
        actor=require_uri(require_key(document, "actor", "document"), "actor"),
        recipient=_recipient(require_key(document, "to", "document")),
        published=require_datetime(require_key(document, "published", "document"), "published"),
    )
    return envelope, document


def require_typed(
    document: Mapping[str, object], key: str, kind: DocumentType, allowed: frozenset[str]
) -> Mapping[str, object]:
    """The embedded `object` or `result`, which must have the given Likewise type."""
    value = require_object(require_key(document, key, "document"), key, allowed | {"type"})
    if value.get("type") != kind.value:
        raise SettlementError(f"{key}.type must be {kind.value}")
    return value


def require_reference(document: Mapping[str, object], key: str = "object") -> str:
    """An Accept or Reject refers to the offer or notice by its id (a string)."""
    return require_uri(require_key(document, key, "document"), key)
