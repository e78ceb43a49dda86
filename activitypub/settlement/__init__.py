"""Settlement protocol documents between Likewise instances: typed, strict, signed.

Wire format
-----------
Every document is an ActivityStreams activity from one instance actor to another,
HTTP-signed in transit and carrying an FEP-8b32 `eddsa-jcs-2022` proof by the
sender's FEP-521a `assertionMethod` key (`<actor>#ed25519-key`). Top level, always::

    {"@context": ["https://www.w3.org/ns/activitystreams",
                  "https://w3id.org/security/data-integrity/v2",
                  {"likewise": "https://likewise.social/ns#", "period": "likewise:period", …}],
     "id": "<caller-chosen stable URI>", "type": "Offer" | "Accept" | "Reject",
     "actor": "<sender instance actor>", "to": ["<recipient instance actor>"],
     "published": "2026-11-01T00:10:00Z", "object": …, "result": …, "proof": {…}}

The `@context` must be exactly `SETTLEMENT_CONTEXT`; unknown keys are refused at
every level, so nothing signed goes uninterpreted. Amounts are
`{"value": "450", "currency": "EUR", "scale": 2}`: integer minor units as a
canonical decimal string (JCS refuses integers beyond 2^53-1). Terms live in
`https://likewise.social/ns#` (see `LIKEWISE_TERMS`).

- Batch: `Offer`, `object` = `{"type": "likewise:SettlementBatch", "period": "2026-10",
  "sequence": 3, "currency": "EUR", "lines": [{"creator": URI, "amount": A,
  "supporters": 2, "clicks": [URI, …]}], "total": A}`. `id` is the batch's stable id;
  `total` must be the sum of the lines; creators and clicks appear once per batch.
- Receipt: `Accept`, `object` = batch id, `result` = `{"type":
  "likewise:SettlementReceipt", "batchDigest": hex SHA-256 of the JCS form of the
  signed batch, "lines": [{"creator", "amount", "status": "accepted" | "rejected",
  "reason"?}], "acceptedTotal": A, "rejectedTotal": A}`.
- Batch refusal: `Reject`, `object` = batch id, `result` = `{"type":
  "likewise:SettlementRefusal", "reason": BatchRejectionReason, "summary"?}`.
- Payment notice: `Offer`, `object` = `{"type": "likewise:Payment", "amount": A,
  "reference": text, "settles": [batch ids]}` (empty `settles`: the open balance).
- Payment confirmation: `Accept`, `object` = notice id, `result` =
  `{"type": "likewise:PaymentConfirmation", "amount": A, "reference": text}`.
- Payment refusal: `Reject`, `object` = notice id, `result` = `{"type":
  "likewise:PaymentRefusal", "reason", "expected"?: A, "notified"?: A,
  "difference"?: A (notified - expected, may be negative), "summary"?}`.
- Peering (FEP-0837 style): `Offer` of `{"type": "likewise:PeeringAgreement",
  "currency": "EUR", "creditLimit": A}`; `Accept` (object = proposal id, `result` =
  the agreed `likewise:PeeringAgreement`) or `Reject` (`result` =
  `{"type": "likewise:PeeringRefusal", "reason", "summary"?}`).

Parsing raises only `SettlementError` (an `InvalidDocument`); `verify_document`
raises `ProofError`.
"""

from __future__ import annotations

from activitypub.settlement.amounts import Amount, Sign, parse_amount
from activitypub.settlement.batches import (
    BatchOffer,
    SettlementLine,
    build_batch_offer,
    parse_batch_offer,
)
from activitypub.settlement.documents import (
    SettlementDocument,
    build_settlement_document,
    document_amounts,
    parse_settlement_document,
)
from activitypub.settlement.integrity import batch_digest, sign_document, verify_document
from activitypub.settlement.payments import (
    PaymentConfirmation,
    PaymentNotice,
    PaymentRefusal,
    PaymentRefusalReason,
    answer_payment,
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
    PeeringRefusalReason,
    PeeringRejection,
    accept_peering,
    build_peering_acceptance,
    build_peering_proposal,
    build_peering_rejection,
    check_peering_acceptance,
    parse_peering_acceptance,
    parse_peering_proposal,
    parse_peering_rejection,
)
from activitypub.settlement.receipts import (
    BatchReceipt,
    BatchRejection,
    BatchRejectionReason,
    LineRejection,
    LineResult,
    LineStatus,
    build_batch_rejection,
    build_receipt,
    check_receipt,
    make_receipt,
    parse_batch_rejection,
    parse_receipt,
)
from activitypub.settlement.wire import (
    LIKEWISE_NAMESPACE,
    LIKEWISE_TERMS,
    SETTLEMENT_CONTEXT,
    DocumentType,
    Envelope,
    EnvelopeFields,
    envelope_fields,
)

__all__ = [
    "LIKEWISE_NAMESPACE",
    "LIKEWISE_TERMS",
    "SETTLEMENT_CONTEXT",
    "Amount",
    "BatchOffer",
    "BatchReceipt",
    "BatchRejection",
    "BatchRejectionReason",
    "DocumentType",
    "Envelope",
    "EnvelopeFields",
    "LineRejection",
    "LineResult",
    "LineStatus",
    "PaymentConfirmation",
    "PaymentNotice",
    "PaymentRefusal",
    "PaymentRefusalReason",
    "PeeringAcceptance",
    "PeeringProposal",
    "PeeringRefusalReason",
    "PeeringRejection",
    "SettlementDocument",
    "SettlementLine",
    "Sign",
    "accept_peering",
    "answer_payment",
    "batch_digest",
    "build_batch_offer",
    "build_batch_rejection",
    "build_payment_confirmation",
    "build_payment_notice",
    "build_payment_refusal",
    "build_peering_acceptance",
    "build_peering_proposal",
    "build_peering_rejection",
    "build_receipt",
    "build_settlement_document",
    "check_peering_acceptance",
    "check_receipt",
    "document_amounts",
    "envelope_fields",
    "make_receipt",
    "parse_amount",
    "parse_batch_offer",
    "parse_batch_rejection",
    "parse_payment_confirmation",
    "parse_payment_notice",
    "parse_payment_refusal",
    "parse_peering_acceptance",
    "parse_peering_proposal",
    "parse_peering_rejection",
    "parse_receipt",
    "parse_settlement_document",
    "sign_document",
    "verify_document",
]
