"""One entry point for an inbox: any settlement document, parsed by its activity and kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from activitypub.errors import SettlementError
from activitypub.settlement.amounts import Amount
from activitypub.settlement.batches import BatchOffer, build_batch_offer, parse_batch_offer
from activitypub.settlement.payments import (
    PaymentConfirmation,
    PaymentNotice,
    PaymentRefusal,
    build_payment_confirmation,
    build_payment_notice,
    build_payment_refusal,
    parse_payment_confirmation,
    parse_payment_notice,
    parse_payment_refusal,
)
from activitypub.settlement.peering import (
    PeeringAcceptance,
    PeeringProposal,
    PeeringRejection,
    build_peering_acceptance,
    build_peering_proposal,
    build_peering_rejection,
    parse_peering_acceptance,
    parse_peering_proposal,
    parse_peering_rejection,
)
from activitypub.settlement.receipts import (
    BatchReceipt,
    BatchRejection,
    build_batch_rejection,
    build_receipt,
    parse_batch_rejection,
    parse_receipt,
)
from activitypub.settlement.wire import DocumentType

SettlementDocument = (
    BatchOffer
    | BatchReceipt
    | BatchRejection
    | PaymentNotice
    | PaymentConfirmation
    | PaymentRefusal
    | PeeringProposal
    | PeeringAcceptance
    | PeeringRejection
)

_PARSERS: dict[tuple[str, str], Callable[[object], SettlementDocument]] = {
    ("Offer", DocumentType.SETTLEMENT_BATCH): parse_batch_offer,
    ("Accept", DocumentType.SETTLEMENT_RECEIPT): parse_receipt,
    ("Reject", DocumentType.SETTLEMENT_REFUSAL): parse_batch_rejection,
    ("Offer", DocumentType.PAYMENT): parse_payment_notice,
    ("Accept", DocumentType.PAYMENT_CONFIRMATION): parse_payment_confirmation,
    ("Reject", DocumentType.PAYMENT_REFUSAL): parse_payment_refusal,
    ("Offer", DocumentType.PEERING_AGREEMENT): parse_peering_proposal,
    ("Accept", DocumentType.PEERING_AGREEMENT): parse_peering_acceptance,
    ("Reject", DocumentType.PEERING_REFUSAL): parse_peering_rejection,
}


def _kind(data: Mapping[str, object]) -> tuple[str, str]:
    activity_type = data.get("type")
    inner = data.get("object" if activity_type == "Offer" else "result")
    inner_type = inner.get("type") if isinstance(inner, Mapping) else None
    if not isinstance(activity_type, str) or not isinstance(inner_type, str):
        raise SettlementError("not a settlement document: no activity type or inner type")
    return activity_type, inner_type


def parse_settlement_document(data: object) -> SettlementDocument:
    """Parse whichever settlement document `data` is; `SettlementError` if none."""
    if not isinstance(data, Mapping):
        raise SettlementError("document must be a JSON object")
    parser = _PARSERS.get(_kind(data))
    if parser is None:
        raise SettlementError("not a settlement document this library knows")
    return parser(data)


def build_settlement_document(document: SettlementDocument) -> dict[str, object]:
    """The unsigned JSON of any settlement document."""
    match document:
        case BatchOffer():
            return build_batch_offer(document)
        case BatchReceipt():
            return build_receipt(document)
        case BatchRejection():
            return build_batch_rejection(document)
        case PaymentNotice():
            return build_payment_notice(document)
        case PaymentConfirmation():
            return build_payment_confirmation(document)
        case PaymentRefusal():
            return build_payment_refusal(document)
        case PeeringProposal():
            return build_peering_proposal(document)
        case PeeringAcceptance():
            return build_peering_acceptance(document)
        case PeeringRejection():
            return build_peering_rejection(document)


def document_amounts(document: SettlementDocument) -> list[tuple[str, Amount]]:
    """Every amount a document states, each with the field that states it (in document
    order), so a receiver can hold them all to its own currency, scale and bounds."""
    match document:
        case BatchOffer():
            lines = [
                (f"object.lines[{i}].amount", ln.amount) for i, ln in enumerate(document.lines)
            ]
            return [*lines, ("object.total", document.total)]
        case BatchReceipt():
            lines = [
                (f"result.lines[{i}].amount", ln.amount) for i, ln in enumerate(document.lines)
            ]
            totals = [
                ("result.acceptedTotal", document.accepted_total),
                ("result.rejectedTotal", document.rejected_total),
            ]
            return [*lines, *totals]
        case PaymentNotice():
            return [("object.amount", document.amount)]
        case PaymentConfirmation():
            return [("result.amount", document.amount)]
        case PaymentRefusal():
            stated = {"expected": document.expected, "notified": document.notified}
            return [(f"result.{key}", a) for key, a in stated.items() if a is not None]
        case PeeringProposal():
            return [("object.creditLimit", document.credit_limit)]
        case PeeringAcceptance():
            return [("result.creditLimit", document.credit_limit)]
        case BatchRejection() | PeeringRejection():
            return []
