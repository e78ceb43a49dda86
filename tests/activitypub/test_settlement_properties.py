from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitypub.errors import InvalidActivity, InvalidDocument, ProofError
from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from activitypub.settlement import (
    Amount,
    BatchOffer,
    BatchRejection,
    BatchRejectionReason,
    Envelope,
    PaymentNotice,
    PeeringProposal,
    SettlementDocument,
    SettlementLine,
    accept_peering,
    answer_payment,
    build_settlement_document,
    envelope_fields,
    make_receipt,
    parse_amount,
    parse_batch_offer,
    parse_batch_rejection,
    parse_payment_confirmation,
    parse_payment_notice,
    parse_payment_refusal,
    parse_peering_acceptance,
    parse_peering_proposal,
    parse_peering_rejection,
    parse_receipt,
    parse_settlement_document,
    sign_document,
    verify_document,
)
from activitypub.settlement.wire import require_uri
from activitypub.vocab import PLAIN_HTTP_URI, check_uri_parts, parse_uri

A = "https://a.example/actor"
B = "https://b.example/actor"
WHEN = datetime(2026, 11, 1, 0, 10, tzinfo=UTC)
KEY = generate_ed25519_key()
PUBLIC = ed25519_public_to_multibase(KEY.public_key())

PARSERS: list[Callable[[object], object]] = [
    parse_settlement_document,
    parse_batch_offer,
    parse_receipt,
    parse_batch_rejection,
    parse_payment_notice,
    parse_payment_confirmation,
    parse_payment_refusal,
    parse_peering_proposal,
    parse_peering_acceptance,
    parse_peering_rejection,
    parse_amount,
]


@st.composite
def batches(draw: st.DrawFn) -> BatchOffer:
    count = draw(st.integers(min_value=1, max_value=50))
    scale = draw(st.integers(min_value=0, max_value=4))
    currency = draw(st.sampled_from(["EUR", "USD", "JPY", "CHF"]))
    lines = []
    for index in range(count):
        supporters = draw(st.integers(min_value=1, max_value=4))
        extra = draw(st.integers(min_value=0, max_value=3))
        lines.append(
            SettlementLine(
                creator=f"https://b.example/users/{index}",
                amount=Amount(draw(st.integers(1, 10**24)), currency, scale),
                supporters=supporters,
                clicks=tuple(f"urn:click:{index}:{n}" for n in range(supporters + extra)),
            )
        )
    return BatchOffer(
        id=f"https://a.example/settlements/{draw(st.integers(1, 10**6))}",
        actor=A,
        recipient=B,
        published=WHEN,
        period=f"{draw(st.integers(2000, 2999))}-{draw(st.integers(1, 12)):02d}",
        sequence=draw(st.integers(1, 2**53 - 1)),
        currency=currency,
        lines=tuple(lines),
    )


@given(batches())
def test_random_batches_round_trip_and_total_is_the_sum(offer: BatchOffer) -> None:
    wire = json.loads(json.dumps(build_settlement_document(offer)))

    parsed = parse_batch_offer(wire)

    assert parsed == offer
    assert parsed.total.value == sum(line.amount.value for line in offer.lines)
    assert wire["object"]["total"]["value"] == str(parsed.total.value)


@settings(max_examples=25)
@given(batches())
def test_random_batches_sign_and_verify(offer: BatchOffer) -> None:
    signed = sign_document(build_settlement_document(offer), KEY, f"{A}#ed25519-key")

    verify_document(json.loads(json.dumps(signed)), PUBLIC, A)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_arbitrary_json_only_ever_raises_invalid_document(data: object) -> None:
    for parse in PARSERS:
        try:
            parse(data)
        except InvalidDocument:
            pass


def sample_documents() -> list[SettlementDocument]:
    offer = BatchOffer(
        **envelope_fields(Envelope("https://a.example/s/1", A, B, WHEN)),
        period="2026-10",
        sequence=1,
        currency="EUR",
        lines=(
            SettlementLine("https://b.example/u/1", Amount(5, "EUR", 2), 1, ("urn:c:1",)),
            SettlementLine("https://b.example/u/2", Amount(7, "EUR", 2), 2, ("urn:c:2", "urn:c:3")),
        ),
    )
    answer = Envelope("https://b.example/a/1", B, A, WHEN)
    notice = PaymentNotice(
        **envelope_fields(Envelope("https://a.example/p/1", A, B, WHEN)),
        amount=Amount(12, "EUR", 2),
        reference="ref",
        settles=(offer.id,),
    )
    proposal = PeeringProposal(
        **envelope_fields(Envelope("https://a.example/peer/1", A, B, WHEN)),
        currency="EUR",
        credit_limit=Amount(0, "EUR", 2),
    )
    return [
        offer,
        make_receipt(answer, offer, "ab" * 32, {}),
        BatchRejection(
            **envelope_fields(answer), offer_id=offer.id, reason=BatchRejectionReason.BAD_PROOF
        ),
        notice,
        answer_payment(answer, notice, Amount(12, "EUR", 2)),
        answer_payment(answer, notice, Amount(13, "EUR", 2)),
        proposal,
        accept_peering(answer, proposal),
    ]


SAMPLES = [build_settlement_document(document) for document in sample_documents()]


def paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: object) -> Any:
    """A copy of `document` with the value at `path` replaced."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: replaced(document[head], rest, value)}
    items = list(document)
    items[head] = replaced(items[head], rest, value)
    return items


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_documents_only_ever_raise_invalid_document(data: st.DataObject) -> None:
    # Given a valid document with one value anywhere replaced by arbitrary JSON
    document = data.draw(st.sampled_from(SAMPLES))
    path = data.draw(st.sampled_from(paths(document)))
    mutated = replaced(json.loads(json.dumps(document)), path, data.draw(json_values))

    # Then parsing either succeeds or raises InvalidDocument (in fact SettlementError)
    for parse in PARSERS:
        try:
            parse(mutated)
        except InvalidDocument:
            pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_signed_documents_only_ever_raise_proof_error(data: st.DataObject) -> None:
    sent_by_a = [sample for sample in SAMPLES if sample["actor"] == A]
    document = sign_document(data.draw(st.sampled_from(sent_by_a)), KEY, f"{A}#ed25519-key")
    path = data.draw(st.sampled_from(paths(document)))
    mutated = replaced(json.loads(json.dumps(document)), path, data.draw(json_values))

    try:
        verify_document(mutated, PUBLIC, A)
    except ProofError:
        pass


@given(st.from_regex(PLAIN_HTTP_URI, fullmatch=True))
def test_fast_uri_path_accepts_only_what_the_full_check_accepts(value: str) -> None:
    assert require_uri(value, "uri") == value
    assert check_uri_parts(value, "uri") == value


@given(st.text(max_size=40) | st.from_regex(r"https?://[^/]{0,12}/.{0,12}", fullmatch=True))
def test_require_uri_refuses_what_parse_uri_refuses(value: str) -> None:
    try:
        parse_uri(value, "uri")
    except InvalidActivity:
        refused = True
    else:
        refused = False
    try:
        require_uri(value, "uri")
    except InvalidDocument:
        assert refused
    else:
        assert not refused
