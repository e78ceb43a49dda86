"""Answers to a batch: a receipt (`Accept`, per line) or a refusal of the whole batch (`Reject`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from activitypub.errors import SettlementError
from activitypub.settlement.amounts import Amount, Sign, check_sign, parse_amount, sum_amounts
from activitypub.settlement.batches import BatchOffer
from activitypub.settlement.wire import (
    DocumentType,
    Envelope,
    check_answers,
    envelope_fields,
    envelope_json,
    optional_text,
    parse_envelope,
    rejection_json,
    require_digest,
    require_key,
    require_list,
    require_object,
    require_reason,
    require_reference,
    require_text,
    require_typed,
    require_uri,
)

RESULT_LINE_KEYS = frozenset({"creator", "amount", "status", "reason"})
RECEIPT_KEYS = frozenset({"batchDigest", "lines", "acceptedTotal", "rejectedTotal"})
REFUSAL_KEYS = frozenset({"reason", "summary"})


class LineStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class LineRejection(StrEnum):
    """Why the receiving instance will not credit one line."""

    UNKNOWN_CREATOR = "unknown_creator"
    DELETED_CREATOR = "deleted_creator"
    SUSPENDED_CREATOR = "suspended_creator"
    WRONG_CURRENCY = "wrong_currency"
    NOT_PAYABLE = "not_payable"
    DUPLICATE_CLICKS = "duplicate_clicks"
    CREDIT_LIMIT_EXCEEDED = "credit_limit_exceeded"


class BatchRejectionReason(StrEnum):
    """Why the receiving instance refuses a whole batch."""

    NOT_A_PEER = "not_a_peer"
    WRONG_CURRENCY = "wrong_currency"
    SEQUENCE_GAP = "sequence_gap"
    SEQUENCE_CONFLICT = "sequence_conflict"
    BAD_SIGNATURE = "bad_signature"
    BAD_PROOF = "bad_proof"
    MALFORMED = "malformed"
    PERIOD_NOT_CLOSED = "period_not_closed"
    CREDIT_LIMIT_EXCEEDED = "credit_limit_exceeded"


@dataclass(frozen=True)
class LineResult:
    """The answer to one line; `rejection` is set exactly when the line is rejected."""

    creator: str
    amount: Amount
    rejection: LineRejection | None = None

    def __post_init__(self) -> None:
        require_uri(self.creator, "line.creator")
        check_sign(self.amount, Sign.POSITIVE, "line.amount")
        if self.rejection is not None:
            require_reason(self.rejection, "line.reason", LineRejection)

    @property
    def status(self) -> LineStatus:
        return LineStatus.ACCEPTED if self.rejection is None else LineStatus.REJECTED


@dataclass(frozen=True)
class BatchReceipt(Envelope):
    """`Accept` of the batch `offer_id`, naming the exact signed document by its digest."""

    offer_id: str
    batch_digest: str
    lines: tuple[LineResult, ...]
    accepted_total: Amount = field(init=False)
    rejected_total: Amount = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.offer_id, "object")
        require_digest(self.batch_digest, "result.batchDigest")
        if not isinstance(self.lines, tuple) or not self.lines:
            raise SettlementError("result.lines must answer at least one line")
        if len({line.creator for line in self.lines}) != len(self.lines):
            raise SettlementError("result.lines must answer each creator once")
        unit = self.lines[0].amount
        accepted = [line.amount for line in self.lines if line.rejection is None]
        rejected = [line.amount for line in self.lines if line.rejection is not None]
        object.__setattr__(self, "accepted_total", sum_amounts(accepted, unit, "result.lines"))
        object.__setattr__(self, "rejected_total", sum_amounts(rejected, unit, "result.lines"))


@dataclass(frozen=True)
class BatchRejection(Envelope):
    """`Reject` of the whole batch `offer_id`; nothing in it is credited."""

    offer_id: str
    reason: BatchRejectionReason
    summary: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.offer_id, "object")
        require_reason(self.reason, "result.reason", BatchRejectionReason)
        if self.summary is not None:
            require_text(self.summary, "result.summary")


def make_receipt(
    envelope: Envelope,
    offer: BatchOffer,
    batch_digest: str,
    rejections: Mapping[str, LineRejection],
) -> BatchReceipt:
    """Answer every line of `offer` in order; creators in `rejections` are rejected."""
    check_answers(envelope, offer, "batch")
    unknown = set(rejections) - {line.creator for line in offer.lines}
    if unknown:
        raise SettlementError(f"rejections name creators not in the batch: {sorted(unknown)[:3]}")
    lines = tuple(
        LineResult(line.creator, line.amount, rejections.get(line.creator)) for line in offer.lines
    )
    return BatchReceipt(
        **envelope_fields(envelope),
        offer_id=offer.id,
        batch_digest=batch_digest,
        lines=lines,
    )


def check_receipt(offer: BatchOffer, batch_digest: str, receipt: BatchReceipt) -> None:
    """Refuse a receipt that does not answer exactly this signed batch, line by line."""
    if receipt.offer_id != offer.id or receipt.batch_digest != batch_digest:
        raise SettlementError("receipt does not answer this batch document")
    check_answers(receipt, offer, "batch")
    answered = [(line.creator, line.amount) for line in receipt.lines]
    if answered != [(line.creator, line.amount) for line in offer.lines]:
        raise SettlementError("receipt lines do not match the batch lines")


def _result_line_json(line: LineResult) -> dict[str, object]:
    item: dict[str, object] = {
        "creator": line.creator,
        "amount": line.amount.to_json(),
        "status": line.status.value,
    }
    if line.rejection is not None:
        item["reason"] = line.rejection.value
    return item


def build_receipt(receipt: BatchReceipt) -> dict[str, object]:
    document = envelope_json(receipt, "Accept")
    document["object"] = receipt.offer_id
    document["result"] = {
        "type": DocumentType.SETTLEMENT_RECEIPT.value,
        "batchDigest": receipt.batch_digest,
        "lines": [_result_line_json(line) for line in receipt.lines],
        "acceptedTotal": receipt.accepted_total.to_json(),
        "rejectedTotal": receipt.rejected_total.to_json(),
    }
    return document


def build_batch_rejection(rejection: BatchRejection) -> dict[str, object]:
    return rejection_json(
        rejection,
        rejection.offer_id,
        DocumentType.SETTLEMENT_REFUSAL,
        rejection.reason,
        rejection.summary,
    )


def _parse_result_line(value: object, index: int) -> LineResult:
    name = f"result.lines[{index}]"
    data = require_object(value, name, RESULT_LINE_KEYS)
    status = require_reason(require_key(data, "status", name), f"{name}.status", LineStatus)
    reason = data.get("reason")
    if (status is LineStatus.REJECTED) != (reason is not None):
        raise SettlementError(f"{name}.reason must be given exactly when the line is rejected")
    return LineResult(
        creator=require_uri(require_key(data, "creator", name), f"{name}.creator"),
        amount=parse_amount(require_key(data, "amount", name), f"{name}.amount"),
        rejection=None if reason is None else require_reason(reason, name, LineRejection),
    )


def _check_total(data: Mapping[str, object], key: str, computed: Amount) -> None:
    stated = parse_amount(require_key(data, key, "result"), f"result.{key}", Sign.NON_NEGATIVE)
    if stated != computed:
        raise SettlementError(f"result.{key} {stated.value} does not add up to {computed.value}")


def parse_receipt(data: object) -> BatchReceipt:
    """Validate a receipt; stated accepted and rejected totals must add up per status."""
    envelope, document = parse_envelope(data, "Accept")
    result = require_typed(document, "result", DocumentType.SETTLEMENT_RECEIPT, RECEIPT_KEYS)
    items = require_list(require_key(result, "lines", "result"), "result.lines")
    receipt = BatchReceipt(
        **envelope_fields(envelope),
        offer_id=require_reference(document),
        batch_digest=require_digest(require_key(result, "batchDigest", "result"), "batchDigest"),
        lines=tuple(_parse_result_line(item, index) for index, item in enumerate(items)),
    )
    _check_total(result, "acceptedTotal", receipt.accepted_total)
    _check_total(result, "rejectedTotal", receipt.rejected_total)
    return receipt


def parse_batch_rejection(data: object) -> BatchRejection:
    envelope, document = parse_envelope(data, "Reject")
    result = require_typed(document, "result", DocumentType.SETTLEMENT_REFUSAL, REFUSAL_KEYS)
    return BatchRejection(
        **envelope_fields(envelope),
        offer_id=require_reference(document),
        reason=require_reason(
            require_key(result, "reason", "result"), "reason", BatchRejectionReason
        ),
        summary=optional_text(result, "summary", "result"),
    )
