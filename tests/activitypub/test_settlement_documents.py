from __future__ import annotations

import ast
import copy
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import activitypub.settlement
from activitypub.errors import InvalidDocument, SettlementError
from activitypub.settlement import (
    LIKEWISE_TERMS,
    SETTLEMENT_CONTEXT,
    Amount,
    BatchOffer,
    BatchReceipt,
    BatchRejection,
    BatchRejectionReason,
    Envelope,
    LineRejection,
    LineResult,
    PaymentConfirmation,
    PaymentNotice,
    PaymentRefusal,
    PaymentRefusalReason,
    PeeringAcceptance,
    PeeringProposal,
    PeeringRefusalReason,
    PeeringRejection,
    SettlementDocument,
    SettlementLine,
    accept_peering,
    answer_payment,
    build_batch_offer,
    build_payment_refusal,
    build_receipt,
    build_settlement_document,
    check_peering_acceptance,
    check_receipt,
    envelope_fields,
    make_receipt,
    parse_batch_offer,
    parse_payment_refusal,
    parse_receipt,
    parse_settlement_document,
)

A = "https://a.example/actor"
B = "https://b.example/actor"
WHEN = datetime(2026, 11, 1, 0, 10, tzinfo=UTC)
DIGEST = "ab" * 32


def eur(value: int) -> Amount:
    return Amount(value, "EUR", 2)


def envelope(id_: str, actor: str = B, recipient: str = A) -> Envelope:
    return Envelope(id=id_, actor=actor, recipient=recipient, published=WHEN)


def make_offer(amounts: tuple[int, ...] = (450, 120, 7), sequence: int = 1) -> BatchOffer:
    lines = tuple(
        SettlementLine(
            creator=f"https://b.example/users/creator{index}",
            amount=eur(value),
            supporters=2,
            clicks=(
                f"https://a.example/users/donor{index}/likes/1",
                f"https://a.example/clicks/{index}-2",
                f"urn:uuid:00000000-0000-0000-0000-00000000000{index}",
            ),
        )
        for index, value in enumerate(amounts)
    )
    return BatchOffer(
        id=f"https://a.example/settlements/b.example/{sequence}",
        actor=A,
        recipient=B,
        published=WHEN,
        period="2026-10",
        sequence=sequence,
        currency="EUR",
        lines=lines,
    )


def make_receipt_doc() -> BatchReceipt:
    rejections = {"https://b.example/users/creator1": LineRejection.SUSPENDED_CREATOR}
    return make_receipt(envelope("https://b.example/receipts/1"), make_offer(), DIGEST, rejections)


def make_notice() -> PaymentNotice:
    return PaymentNotice(
        id="https://a.example/payments/1",
        actor=A,
        recipient=B,
        published=WHEN,
        amount=eur(577),
        reference="LIKEWISE 2026-10 A>B",
        settles=("https://a.example/settlements/b.example/1",),
    )


def make_proposal() -> PeeringProposal:
    return PeeringProposal(
        id="https://a.example/peering/b.example",
        actor=A,
        recipient=B,
        published=WHEN,
        currency="EUR",
        credit_limit=eur(50_000),
    )


ALL_DOCUMENTS: dict[str, Callable[[], SettlementDocument]] = {
    "batch": make_offer,
    "receipt": make_receipt_doc,
    "batch rejection": lambda: BatchRejection(
        **envelope_fields(envelope("https://b.example/rejections/1")),
        offer_id="https://a.example/settlements/b.example/1",
        reason=BatchRejectionReason.SEQUENCE_GAP,
        summary="expected sequence 4",
    ),
    "batch rejection without summary": lambda: BatchRejection(
        **envelope_fields(envelope("https://b.example/rejections/2")),
        offer_id="https://a.example/settlements/b.example/1",
        reason=BatchRejectionReason.NOT_A_PEER,
    ),
    "payment notice": make_notice,
    "payment notice for the open balance": lambda: PaymentNotice(
        **envelope_fields(envelope("https://a.example/payments/2", A, B)),
        amount=eur(1),
        reference="r",
    ),
    "payment confirmation": lambda: answer_payment(
        envelope("https://b.example/confirmations/1"), make_notice(), eur(577)
    ),
    "payment refusal": lambda: answer_payment(
        envelope("https://b.example/refusals/1"), make_notice(), eur(600)
    ),
    "payment refusal, other currency": lambda: answer_payment(
        envelope("https://b.example/refusals/2"), make_notice(), Amount(600, "USD", 2)
    ),
    "payment refusal, not received": lambda: PaymentRefusal(
        **envelope_fields(envelope("https://b.example/refusals/3")),
        notice_id="https://a.example/payments/1",
        reason=PaymentRefusalReason.NOT_RECEIVED,
        summary="nothing on the account with that reference",
    ),
    "peering proposal": make_proposal,
    "peering acceptance": lambda: accept_peering(
        envelope("https://b.example/peering/a.example/accept"), make_proposal()
    ),
    "peering rejection": lambda: PeeringRejection(
        **envelope_fields(envelope("https://b.example/peering/a.example/reject")),
        proposal_id="https://a.example/peering/b.example",
        reason=PeeringRefusalReason.CREDIT_LIMIT_TOO_HIGH,
    ),
}


@pytest.mark.parametrize("make", ALL_DOCUMENTS.values(), ids=list(ALL_DOCUMENTS))
def test_every_document_round_trips_through_json(make: Callable[[], SettlementDocument]) -> None:
    # Given
    document = make()

    # When
    wire = json.loads(json.dumps(build_settlement_document(document)))
    parsed = parse_settlement_document(wire)

    # Then
    assert parsed == document
    assert build_settlement_document(parsed) == wire
    assert wire["@context"] == SETTLEMENT_CONTEXT


def test_batch_wire_shape() -> None:
    wire = build_batch_offer(make_offer())

    assert wire["type"] == "Offer"
    assert wire["to"] == [B]
    assert wire["published"] == "2026-11-01T00:10:00Z"
    batch: Any = wire["object"]
    assert batch["type"] == "likewise:SettlementBatch"
    assert batch["total"] == {"value": "577", "currency": "EUR", "scale": 2}
    assert batch["lines"][0] == {
        "creator": "https://b.example/users/creator0",
        "amount": {"value": "450", "currency": "EUR", "scale": 2},
        "supporters": 2,
        "clicks": [
            "https://a.example/users/donor0/likes/1",
            "https://a.example/clicks/0-2",
            "urn:uuid:00000000-0000-0000-0000-000000000000",
        ],
    }


def test_built_documents_do_not_share_the_context_constant() -> None:
    wire = build_batch_offer(make_offer())
    context: Any = wire["@context"]
    context[2]["period"] = "changed"

    assert build_batch_offer(make_offer())["@context"] == SETTLEMENT_CONTEXT


def test_receipt_totals_split_accepted_and_rejected_lines() -> None:
    receipt = make_receipt_doc()

    assert receipt.accepted_total == eur(457)
    assert receipt.rejected_total == eur(120)
    assert [line.status.value for line in receipt.lines] == ["accepted", "rejected", "accepted"]
    result: Any = build_receipt(receipt)["result"]
    assert result["lines"][1] == {
        "creator": "https://b.example/users/creator1",
        "amount": {"value": "120", "currency": "EUR", "scale": 2},
        "status": "rejected",
        "reason": "suspended_creator",
    }
    assert result["acceptedTotal"]["value"] == "457"


def test_published_is_normalized_to_utc_seconds() -> None:
    moment = datetime(2026, 11, 1, 1, 10, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    document = Envelope(id="https://a.example/x", actor=A, recipient=B, published=moment)

    assert document.published == WHEN


def wire_batch() -> dict[str, Any]:
    wire: dict[str, Any] = json.loads(json.dumps(build_batch_offer(make_offer())))
    return wire


def set_path(document: dict[str, Any], path: str, value: object) -> None:
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value


DELETE = object()
BAD_BATCH_FIELDS: list[tuple[str, object, str]] = [
    ("object.total.value", "578", "not the sum"),
    ("object.total.value", "576", "not the sum"),
    ("object.total.currency", "USD", "not the sum"),
    ("object.lines.0.amount.currency", "USD", "batch currency EUR"),
    ("object.lines.2.amount.currency", "USD", "differs from"),
    ("object.lines.1.amount.scale", 3, "differs from"),
    ("object.lines.0.amount.value", "0", "must be positive"),
    ("object.lines.0.amount.value", "-450", "must be positive"),
    ("object.lines.1.creator", "https://b.example/users/creator0", "each creator once"),
    ("object.lines.1.clicks.0", "https://a.example/users/donor0/likes/1", "more than once"),
    ("object.lines.0.clicks", ["urn:a"], "one click per supporter"),
    ("object.lines.0.clicks", ["urn:a", 5], "clicks"),
    ("object.lines.0.clicks", "urn:a", "clicks must be a list"),
    ("object.lines.0.clicks.0", "not a uri", "clicks"),
    ("object.lines.0.creator", "mailto:c@b.example", "creator"),
    ("object.lines.0.supporters", 0, "supporters"),
    ("object.lines.0.supporters", "2", "supporters"),
    ("object.lines.0.supporters", True, "supporters"),
    ("object.lines.0.weight", 1, "unknown keys: weight"),
    ("object.lines.0.amount", "450", "amount"),
    ("object.lines", [], "lines must not be empty"),
    ("object.lines", DELETE, "object.lines is missing"),
    ("object.sequence", 0, "sequence"),
    ("object.sequence", "1", "sequence"),
    ("object.sequence", 1.0, "sequence"),
    ("object.sequence", 2**53, "sequence"),
    ("object.period", "2026-13", "period"),
    ("object.period", "2026-1", "period"),
    ("object.period", 202610, "period"),
    ("object.currency", "USD", "batch currency"),
    ("object.currency", "eur", "currency"),
    ("object.type", "Settlement", "object.type"),
    ("object.note", "hi", "unknown keys: note"),
    ("object", "https://a.example/settlements/1", "object must be a JSON object"),
    ("type", "Create", "type must be Offer"),
    ("@context", "https://www.w3.org/ns/activitystreams", "@context"),
    ("@context", DELETE, "@context is missing"),
    ("actor", B, "different instance actors"),
    ("actor", "https://a.example/actor with space", "actor"),
    ("to", [B, "https://c.example/actor"], "exactly one recipient"),
    ("to", [], "exactly one recipient"),
    ("published", "2026-11-01T01:10:00+01:00", "published"),
    ("published", "2026-11-01T00:10:00.5Z", "published"),
    ("published", "2026-02-30T00:10:00Z", "published"),
    ("id", DELETE, "id is missing"),
    ("result", {}, "unknown keys: result"),
    ("cc", [], "unknown keys: cc"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    BAD_BATCH_FIELDS,
    ids=[f"{p}={v!r}" for p, v, _ in BAD_BATCH_FIELDS],
)
def test_bad_batches_are_refused_naming_the_problem(path: str, value: object, message: str) -> None:
    # Given a valid batch with one field spoiled
    wire = wire_batch()
    set_path(wire, path, value)

    # Then
    with pytest.raises(SettlementError, match=message):
        parse_batch_offer(wire)


def test_a_string_recipient_is_accepted_as_a_single_item() -> None:
    wire = wire_batch()
    wire["to"] = B

    assert parse_batch_offer(wire) == make_offer()


def test_settlement_error_is_an_invalid_document() -> None:
    assert issubclass(SettlementError, InvalidDocument)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("result.acceptedTotal.value", "456", "acceptedTotal"),
        ("result.rejectedTotal.value", "0", "rejectedTotal"),
        ("result.lines.0.status", "maybe", "status"),
        ("result.lines.0.reason", "unknown_creator", "exactly when the line is rejected"),
        ("result.lines.1.reason", DELETE, "exactly when the line is rejected"),
        ("result.lines.1.reason", "dislike", "must be one of"),
        ("result.lines.2.creator", "https://b.example/users/creator0", "each creator once"),
        ("result.batchDigest", "AB" * 32, "batchDigest"),
        ("result.batchDigest", "ab", "batchDigest"),
        ("object", {"id": "https://a.example/settlements/b.example/1"}, "object"),
        ("result.type", "likewise:SettlementRefusal", "result.type"),
    ],
)
def test_bad_receipts_are_refused(path: str, value: object, message: str) -> None:
    wire: dict[str, Any] = json.loads(json.dumps(build_receipt(make_receipt_doc())))
    set_path(wire, path, value)

    with pytest.raises(SettlementError, match=message):
        parse_receipt(wire)


def test_check_receipt_accepts_the_answer_to_this_batch_only() -> None:
    # Given
    offer = make_offer()
    receipt = make_receipt(envelope("https://b.example/receipts/1"), offer, DIGEST, {})

    # Then it matches this signed batch
    check_receipt(offer, DIGEST, receipt)
    with pytest.raises(SettlementError, match="does not answer"):
        check_receipt(offer, "cd" * 32, receipt)
    with pytest.raises(SettlementError, match="lines do not match"):
        check_receipt(make_offer((450, 120, 8)), DIGEST, receipt)
    forged = dataclasses.replace(receipt, actor="https://c.example/actor")
    with pytest.raises(SettlementError, match="from its recipient to its sender"):
        check_receipt(offer, DIGEST, forged)
    with pytest.raises(SettlementError, match="from its recipient to its sender"):
        make_receipt(
            envelope("https://b.example/receipts/2", B, "https://c.example/actor"),
            offer,
            DIGEST,
            {},
        )


def test_make_receipt_refuses_rejections_of_creators_not_in_the_batch() -> None:
    with pytest.raises(SettlementError, match="not in the batch"):
        make_receipt(
            envelope("https://b.example/receipts/1"),
            make_offer(),
            DIGEST,
            {"https://b.example/users/nobody": LineRejection.UNKNOWN_CREATOR},
        )


def test_line_result_refuses_non_positive_amounts() -> None:
    with pytest.raises(SettlementError, match="positive"):
        LineResult("https://b.example/users/c", eur(0))


def test_payment_matching_the_open_balance_is_confirmed() -> None:
    answer = answer_payment(envelope("https://b.example/c/1"), make_notice(), eur(577))

    assert isinstance(answer, PaymentConfirmation)
    assert (answer.notice_id, answer.amount, answer.reference) == (
        "https://a.example/payments/1",
        eur(577),
        "LIKEWISE 2026-10 A>B",
    )


@pytest.mark.parametrize(("balance", "difference"), [(600, -23), (500, 77), (0, 577)])
def test_payment_not_matching_the_open_balance_is_refused_with_the_difference(
    balance: int, difference: int
) -> None:
    # When
    answer = answer_payment(envelope("https://b.example/r/1"), make_notice(), eur(balance))

    # Then
    assert isinstance(answer, PaymentRefusal)
    assert answer.reason is PaymentRefusalReason.AMOUNT_MISMATCH
    assert answer.difference == eur(difference)
    result: Any = build_payment_refusal(answer)["result"]
    assert result["expected"]["value"] == str(balance)
    assert result["notified"]["value"] == "577"
    assert result["difference"]["value"] == str(difference)


def test_payment_in_another_currency_is_refused_without_a_difference() -> None:
    answer = answer_payment(envelope("https://b.example/r/1"), make_notice(), Amount(5, "USD", 2))

    assert isinstance(answer, PaymentRefusal)
    assert answer.reason is PaymentRefusalReason.WRONG_CURRENCY
    assert answer.difference is None
    assert "difference" not in build_payment_refusal(answer)["result"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("result.difference.value", "23", "difference"),
        ("result.difference", DELETE, "difference"),
        ("result.expected", DELETE, "amount_mismatch needs"),
        ("result.notified.value", "600", "equal expected and notified"),
        ("result.expected.value", "-1", "must not be negative"),
    ],
)
def test_bad_payment_refusals_are_refused(path: str, value: object, message: str) -> None:
    refusal = answer_payment(envelope("https://b.example/r/1"), make_notice(), eur(600))
    wire: dict[str, Any] = json.loads(json.dumps(build_settlement_document(refusal)))
    set_path(wire, path, value)

    with pytest.raises(SettlementError, match=message):
        parse_payment_refusal(wire)


def test_payment_notice_settling_a_batch_twice_is_refused() -> None:
    with pytest.raises(SettlementError, match="distinct"):
        PaymentNotice(
            **envelope_fields(envelope("https://a.example/payments/3", A, B)),
            amount=eur(1),
            reference="r",
            settles=("https://a.example/s/1", "https://a.example/s/1"),
        )


def test_peering_acceptance_must_keep_the_proposed_terms() -> None:
    # Given
    proposal = make_proposal()
    accepted = accept_peering(envelope("https://b.example/peering/1"), proposal)

    # Then
    check_peering_acceptance(proposal, accepted)
    changed = PeeringAcceptance(
        **envelope_fields(envelope("https://b.example/peering/1")),
        proposal_id=proposal.id,
        currency="EUR",
        credit_limit=eur(90_000),
    )
    with pytest.raises(SettlementError, match="changes the proposed terms"):
        check_peering_acceptance(proposal, changed)
    other = accept_peering(envelope("https://b.example/peering/2"), make_proposal())
    with pytest.raises(SettlementError, match="from its recipient to its sender"):
        check_peering_acceptance(
            proposal, dataclasses.replace(other, actor="https://c.example/actor")
        )


def test_peering_credit_limit_must_be_in_the_agreement_currency() -> None:
    with pytest.raises(SettlementError, match="creditLimit"):
        PeeringProposal(
            **envelope_fields(envelope("https://a.example/peering/x", A, B)),
            currency="EUR",
            credit_limit=Amount(100, "USD", 2),
        )


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "Offer",
        {},
        {"type": "Offer"},
        {"type": "Offer", "object": {"type": "likewise:Unknown"}},
        {"type": "Accept", "result": {"type": "likewise:SettlementBatch"}},
        {"type": ["Offer"], "object": {"type": "likewise:SettlementBatch"}},
        {"type": "Like", "object": "https://b.example/notes/1"},
    ],
)
def test_parse_settlement_document_refuses_what_it_does_not_know(data: object) -> None:
    with pytest.raises(SettlementError):
        parse_settlement_document(data)


def test_receipt_sent_as_a_batch_is_not_taken_for_one() -> None:
    wire: dict[str, Any] = copy.deepcopy(build_receipt(make_receipt_doc()))
    wire["type"] = "Offer"

    with pytest.raises(SettlementError):
        parse_settlement_document(wire)


def test_settlement_package_is_a_library() -> None:
    forbidden = {"server", "sqlmodel", "sqlalchemy", "starlette", "bridges"}
    package = Path(activitypub.settlement.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not {name.split(".")[0] for name in names} & forbidden, path.name


def keys_of(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


def test_every_term_on_the_wire_is_activitystreams_or_defined_in_the_likewise_context() -> None:
    activitystreams = {"id", "type", "actor", "to", "published", "object", "result", "summary"}
    used: set[str] = set()
    for make in ALL_DOCUMENTS.values():
        wire = build_settlement_document(make())
        used |= keys_of({key: value for key, value in wire.items() if key != "@context"})

    assert used - activitystreams <= set(LIKEWISE_TERMS) - {"likewise"}
    for term, definition in LIKEWISE_TERMS.items():
        expanded = definition["@id"] if isinstance(definition, dict) else definition
        assert expanded in {f"likewise:{term}", "https://likewise.social/ns#"}


def test_answers_must_go_back_from_the_recipient_to_the_sender() -> None:
    wrong_way = envelope("https://a.example/answers/1", A, B)

    with pytest.raises(SettlementError, match="from its recipient to its sender"):
        answer_payment(wrong_way, make_notice(), eur(577))
    with pytest.raises(SettlementError, match="from its recipient to its sender"):
        accept_peering(wrong_way, make_proposal())
