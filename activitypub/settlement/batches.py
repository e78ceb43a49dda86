"""The settlement batch: one `Offer` per peer and period listing what each creator is owed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from activitypub.errors import SettlementError
from activitypub.settlement.amounts import (
    CURRENCY_PATTERN,
    Amount,
    Sign,
    check_sign,
    parse_amount,
    sum_amounts,
)
from activitypub.settlement.wire import (
    DocumentType,
    Envelope,
    envelope_fields,
    envelope_json,
    parse_envelope,
    require_int,
    require_key,
    require_list,
    require_object,
    require_typed,
    require_uri,
)

PERIOD_PATTERN = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")
MAX_LINES = 100_000
MAX_CLICKS = 1_000_000
LINE_KEYS = frozenset({"creator", "amount", "supporters", "clicks"})
BATCH_KEYS = frozenset({"period", "sequence", "currency", "lines", "total"})


@dataclass(frozen=True)
class SettlementLine:
    """What one creator on the peer is owed; `clicks` are Like activity ids or click URIs."""

    creator: str
    amount: Amount
    supporters: int
    clicks: tuple[str, ...]

    def __post_init__(self) -> None:
        require_uri(self.creator, "line.creator")
        check_sign(self.amount, Sign.POSITIVE, "line.amount")
        require_int(self.supporters, "line.supporters", 1)
        if not isinstance(self.clicks, tuple):
            raise SettlementError("line.clicks must be a tuple of URIs")
        if len(self.clicks) < self.supporters:
            raise SettlementError("line.clicks must list at least one click per supporter")
        for click in self.clicks:
            require_uri(click, "line.clicks[]", http_only=False)


@dataclass(frozen=True)
class BatchOffer(Envelope):
    """`id` is the batch's stable id; `sequence` counts batches per peer pair from 1."""

    period: str
    sequence: int
    currency: str
    lines: tuple[SettlementLine, ...]
    total: Amount = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.period, str) or not PERIOD_PATTERN.fullmatch(self.period):
            raise SettlementError("period must be a month written YYYY-MM")
        require_int(self.sequence, "sequence", 1)
        if not isinstance(self.currency, str) or not CURRENCY_PATTERN.fullmatch(self.currency):
            raise SettlementError("currency must be three capital letters (ISO 4217)")
        if not isinstance(self.lines, tuple) or not 0 < len(self.lines) <= MAX_LINES:
            raise SettlementError(f"lines must hold 1 to {MAX_LINES} lines")
        if self.lines[0].amount.currency != self.currency:
            raise SettlementError(f"line amounts must be in the batch currency {self.currency}")
        _check_unique(self.lines)
        total = sum_amounts((line.amount for line in self.lines), self.lines[0].amount, "lines")
        object.__setattr__(self, "total", total)


def _check_unique(lines: tuple[SettlementLine, ...]) -> None:
    creators = {line.creator for line in lines}
    if len(creators) != len(lines):
        raise SettlementError("lines must name each creator once")
    clicks = [click for line in lines for click in line.clicks]
    if len(clicks) > MAX_CLICKS:
        raise SettlementError(f"a batch lists at most {MAX_CLICKS} clicks")
    if len(set(clicks)) != len(clicks):
        raise SettlementError("a click appears more than once in the batch")


def _line_json(line: SettlementLine) -> dict[str, object]:
    return {
        "creator": line.creator,
        "amount": line.amount.to_json(),
        "supporters": line.supporters,
        "clicks": list(line.clicks),
    }


def build_batch_offer(offer: BatchOffer) -> dict[str, object]:
    """The unsigned `Offer` of a `likewise:SettlementBatch`; sign it with `sign_document`."""
    document = envelope_json(offer, "Offer")
    document["object"] = {
        "type": DocumentType.SETTLEMENT_BATCH.value,
        "period": offer.period,
        "sequence": offer.sequence,
        "currency": offer.currency,
        "lines": [_line_json(line) for line in offer.lines],
        "total": offer.total.to_json(),
    }
    return document


def _clicks(value: object, name: str) -> tuple[str, ...]:
    items = require_list(value, name)
    for item in items:
        if not isinstance(item, str):
            raise SettlementError(f"{name} must hold URI strings")
    return tuple(item for item in items if isinstance(item, str))


def _parse_line(value: object, index: int) -> SettlementLine:
    name = f"object.lines[{index}]"
    data = require_object(value, name, LINE_KEYS)
    return SettlementLine(
        creator=require_uri(require_key(data, "creator", name), f"{name}.creator"),
        amount=parse_amount(require_key(data, "amount", name), f"{name}.amount"),
        supporters=require_int(require_key(data, "supporters", name), f"{name}.supporters", 1),
        clicks=_clicks(require_key(data, "clicks", name), f"{name}.clicks"),
    )


def _parse_lines(batch: Mapping[str, object]) -> tuple[SettlementLine, ...]:
    items = require_list(require_key(batch, "lines", "object"), "object.lines")
    if len(items) > MAX_LINES:
        raise SettlementError(f"object.lines has more than {MAX_LINES} lines")
    return tuple(_parse_line(item, index) for index, item in enumerate(items))


def parse_batch_offer(data: object) -> BatchOffer:
    """Validate a received batch; a `total` that is not the sum of the lines is refused."""
    envelope, document = parse_envelope(data, "Offer")
    batch = require_typed(document, "object", DocumentType.SETTLEMENT_BATCH, BATCH_KEYS)
    stated_total = parse_amount(require_key(batch, "total", "object"), "object.total")
    offer = BatchOffer(
        **envelope_fields(envelope),
        period=_require_str(batch, "period"),
        sequence=require_int(require_key(batch, "sequence", "object"), "object.sequence", 1),
        currency=_require_str(batch, "currency"),
        lines=_parse_lines(batch),
    )
    if offer.total != stated_total:
        raise SettlementError(
            f"object.total {stated_total.value} is not the sum of the lines {offer.total.value}"
        )
    return offer


def _require_str(batch: Mapping[str, object], key: str) -> str:
    value = require_key(batch, key, "object")
    if not isinstance(value, str):
        raise SettlementError(f"object.{key} must be a string")
    return value
