"""Payment notices (`Offer` of a `likewise:Payment`) and their confirmation or refusal.

The debtor instance says it moved money outside the protocol (bank transfer with a
reference); the creditor confirms it, or refuses it stating expected and notified
amounts and their difference (notified minus expected, so it may be negative).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from activitypub.errors import SettlementError
from activitypub.settlement.amounts import Amount, Sign, check_sign, parse_amount
from activitypub.settlement.wire import (
    DocumentType,
    Envelope,
    check_answers,
    envelope_fields,
    envelope_json,
    optional_text,
    parse_envelope,
    rejection_json,
    require_key,
    require_list,
    require_reason,
    require_reference,
    require_text,
    require_typed,
    require_uri,
)

PAYMENT_KEYS = frozenset({"amount", "reference", "settles"})
CONFIRMATION_KEYS = frozenset({"amount", "reference"})
REFUSAL_KEYS = frozenset({"reason", "expected", "notified", "difference", "summary"})


class PaymentRefusalReason(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    WRONG_CURRENCY = "wrong_currency"
    NOT_RECEIVED = "not_received"
    UNKNOWN_BATCH = "unknown_batch"
    NOT_A_PEER = "not_a_peer"


@dataclass(frozen=True)
class PaymentNotice(Envelope):
    """`settles` lists the batch ids paid; empty means "the open balance"."""

    amount: Amount
    reference: str
    settles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sign(self.amount, Sign.POSITIVE, "object.amount")
        require_text(self.reference, "object.reference")
        if not isinstance(self.settles, tuple) or len(set(self.settles)) != len(self.settles):
            raise SettlementError("object.settles must be a tuple of distinct batch ids")
        for batch_id in self.settles:
            require_uri(batch_id, "object.settles[]")


@dataclass(frozen=True)
class PaymentConfirmation(Envelope):
    """`Accept` of the notice `notice_id`, repeating what was confirmed."""

    notice_id: str
    amount: Amount
    reference: str

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.notice_id, "object")
        check_sign(self.amount, Sign.POSITIVE, "result.amount")
        require_text(self.reference, "result.reference")


@dataclass(frozen=True)
class PaymentRefusal(Envelope):
    """`Reject` of the notice; `expected` is the open balance as the creditor sees it."""

    notice_id: str
    reason: PaymentRefusalReason
    expected: Amount | None = None
    notified: Amount | None = None
    summary: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require_uri(self.notice_id, "object")
        require_reason(self.reason, "result.reason", PaymentRefusalReason)
        if self.expected is not None:
            check_sign(self.expected, Sign.NON_NEGATIVE, "result.expected")
        if self.notified is not None:
            check_sign(self.notified, Sign.POSITIVE, "result.notified")
        if self.reason is PaymentRefusalReason.AMOUNT_MISMATCH and self.difference is None:
            raise SettlementError("amount_mismatch needs expected and notified in one currency")
        if self.difference is not None and self.difference.value == 0:
            raise SettlementError("a refusal cannot state equal expected and notified amounts")
        if self.summary is not None:
            require_text(self.summary, "result.summary")

    @property
    def difference(self) -> Amount | None:
        """Notified minus expected, when both are stated in the same currency and scale."""
        if self.expected is None or self.notified is None:
            return None
        if not self.notified.same_unit(self.expected):
            return None
        return self.notified.minus(self.expected)


def answer_payment(
    envelope: Envelope, notice: PaymentNotice, open_balance: Amount
) -> PaymentConfirmation | PaymentRefusal:
    """Confirm a notice that pays exactly `open_balance`; otherwise refuse it, stating why."""
    check_answers(envelope, notice, "payment notice")
    if notice.amount == open_balance:
        return PaymentConfirmation(
            **envelope_fields(envelope),
            notice_id=notice.id,
            amount=notice.amount,
            reference=notice.reference,
        )
    reason = (
        PaymentRefusalReason.AMOUNT_MISMATCH
        if notice.amount.same_unit(open_balance)
        else PaymentRefusalReason.WRONG_CURRENCY
    )
    return PaymentRefusal(
        **envelope_fields(envelope),
        notice_id=notice.id,
        reason=reason,
        expected=open_balance,
        notified=notice.amount,
    )


def build_payment_notice(notice: PaymentNotice) -> dict[str, object]:
    document = envelope_json(notice, "Offer")
    document["object"] = {
        "type": DocumentType.PAYMENT.value,
        "amount": notice.amount.to_json(),
        "reference": notice.reference,
        "settles": list(notice.settles),
    }
    return document


def build_payment_confirmation(confirmation: PaymentConfirmation) -> dict[str, object]:
    document = envelope_json(confirmation, "Accept")
    document["object"] = confirmation.notice_id
    document["result"] = {
        "type": DocumentType.PAYMENT_CONFIRMATION.value,
        "amount": confirmation.amount.to_json(),
        "reference": confirmation.reference,
    }
    return document


def build_payment_refusal(refusal: PaymentRefusal) -> dict[str, object]:
    amounts = {
        "expected": refusal.expected,
        "notified": refusal.notified,
        "difference": refusal.difference,
    }
    details = {key: amount.to_json() for key, amount in amounts.items() if amount is not None}
    return rejection_json(
        refusal,
        refusal.notice_id,
        DocumentType.PAYMENT_REFUSAL,
        refusal.reason,
        refusal.summary,
        details,
    )


def _settles(value: object) -> tuple[str, ...]:
    items = require_list(value, "object.settles", non_empty=False)
    return tuple(require_uri(item, "object.settles[]") for item in items)


def parse_payment_notice(data: object) -> PaymentNotice:
    envelope, document = parse_envelope(data, "Offer")
    payment = require_typed(document, "object", DocumentType.PAYMENT, PAYMENT_KEYS)
    return PaymentNotice(
        **envelope_fields(envelope),
        amount=parse_amount(require_key(payment, "amount", "object"), "object.amount"),
        reference=require_text(require_key(payment, "reference", "object"), "object.reference"),
        settles=_settles(require_key(payment, "settles", "object")),
    )


def parse_payment_confirmation(data: object) -> PaymentConfirmation:
    envelope, document = parse_envelope(data, "Accept")
    result = require_typed(document, "result", DocumentType.PAYMENT_CONFIRMATION, CONFIRMATION_KEYS)
    return PaymentConfirmation(
        **envelope_fields(envelope),
        notice_id=require_reference(document),
        amount=parse_amount(require_key(result, "amount", "result"), "result.amount"),
        reference=require_text(require_key(result, "reference", "result"), "result.reference"),
    )


def _optional_amount(result: Mapping[str, object], key: str, sign: Sign) -> Amount | None:
    if result.get(key) is None:
        return None
    return parse_amount(result[key], f"result.{key}", sign)


def parse_payment_refusal(data: object) -> PaymentRefusal:
    """Validate a refusal; a stated `difference` must be notified minus expected."""
    envelope, document = parse_envelope(data, "Reject")
    result = require_typed(document, "result", DocumentType.PAYMENT_REFUSAL, REFUSAL_KEYS)
    refusal = PaymentRefusal(
        **envelope_fields(envelope),
        notice_id=require_reference(document),
        reason=require_reason(
            require_key(result, "reason", "result"), "result.reason", PaymentRefusalReason
        ),
        expected=_optional_amount(result, "expected", Sign.NON_NEGATIVE),
        notified=_optional_amount(result, "notified", Sign.POSITIVE),
        summary=optional_text(result, "summary", "result"),
    )
    if _optional_amount(result, "difference", Sign.ANY) != refusal.difference:
        raise SettlementError("result.difference must be notified minus expected")
    return refusal
