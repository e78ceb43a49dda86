from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from activitypub.errors import ProofError, SettlementError
from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from activitypub.proofs import canonicalize
from activitypub.settlement import (
    Amount,
    BatchOffer,
    Envelope,
    PaymentNotice,
    SettlementLine,
    batch_digest,
    build_batch_offer,
    build_receipt,
    build_settlement_document,
    check_receipt,
    envelope_fields,
    make_receipt,
    parse_batch_offer,
    parse_receipt,
    parse_settlement_document,
    sign_document,
    verify_document,
)

A = "https://a.example/actor"
B = "https://b.example/actor"
A_METHOD = f"{A}#ed25519-key"
B_METHOD = f"{B}#ed25519-key"
WHEN = datetime(2026, 11, 1, 0, 10, tzinfo=UTC)
A_KEY = generate_ed25519_key()
B_KEY = generate_ed25519_key()


def public(key: ed25519.Ed25519PrivateKey) -> str:
    return ed25519_public_to_multibase(key.public_key())


def make_offer() -> BatchOffer:
    lines = tuple(
        SettlementLine(
            creator=f"https://b.example/users/creator{index}",
            amount=Amount(100 * (index + 1), "EUR", 2),
            supporters=1,
            clicks=(f"https://a.example/likes/{index}", f"urn:likewise:click:{index}"),
        )
        for index in range(3)
    )
    return BatchOffer(
        id="https://a.example/settlements/b.example/7",
        actor=A,
        recipient=B,
        published=WHEN,
        period="2026-10",
        sequence=7,
        currency="EUR",
        lines=lines,
    )


def signed_batch() -> dict[str, Any]:
    signed = sign_document(build_batch_offer(make_offer()), A_KEY, A_METHOD, created=WHEN)
    wire: dict[str, Any] = json.loads(json.dumps(signed))
    return wire


def test_signed_batch_verifies_and_still_parses() -> None:
    # Given
    wire = signed_batch()

    # When
    verified = verify_document(wire, public(A_KEY), A)

    # Then
    assert verified.verification_method == A_METHOD
    assert verified.created == "2026-11-01T00:10:00Z"
    assert parse_batch_offer(wire) == make_offer()


def set_line_amount(wire: dict[str, Any], index: int, value: str) -> None:
    """Change one line and restate the total, so only the proof can notice."""
    batch = wire["object"]
    batch["lines"][index]["amount"]["value"] = value
    batch["total"]["value"] = str(sum(int(line["amount"]["value"]) for line in batch["lines"]))


def add_line(wire: dict[str, Any]) -> None:
    batch = wire["object"]
    batch["lines"].append(
        {
            "creator": "https://b.example/users/mallory",
            "amount": {"value": "9900", "currency": "EUR", "scale": 2},
            "supporters": 1,
            "clicks": ["urn:likewise:click:forged"],
        }
    )
    set_line_amount(wire, 0, batch["lines"][0]["amount"]["value"])


def remove_line(wire: dict[str, Any]) -> None:
    del wire["object"]["lines"][1]
    set_line_amount(wire, 0, wire["object"]["lines"][0]["amount"]["value"])


def change_currency(wire: dict[str, Any]) -> None:
    batch = wire["object"]
    batch["currency"] = "USD"
    for amount in [line["amount"] for line in batch["lines"]] + [batch["total"]]:
        amount["currency"] = "USD"


def set_key(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        wire["object"][key] = value

    return change


TAMPERINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "line amount changed": lambda wire: set_line_amount(wire, 0, "101"),
    "line added": add_line,
    "line removed": remove_line,
    "total changed": lambda wire: set_key("total", {"value": "601", "currency": "EUR", "scale": 2})(
        wire
    ),
    "sequence changed": set_key("sequence", 8),
    "period changed": set_key("period", "2026-09"),
    "currency changed": change_currency,
    "click replaced": lambda wire: wire["object"]["lines"][0]["clicks"].__setitem__(
        0, "https://a.example/likes/other"
    ),
    "recipient changed": lambda wire: wire.__setitem__("to", ["https://c.example/actor"]),
    "id changed": lambda wire: wire.__setitem__("id", "https://a.example/settlements/b.example/8"),
    "context changed": lambda wire: wire["@context"].pop(),
    "proof created changed": lambda wire: wire["proof"].__setitem__(
        "created", "2026-11-02T00:00:00Z"
    ),
    "proofValue changed": lambda wire: wire["proof"].__setitem__(
        "proofValue", wire["proof"]["proofValue"][:-2] + "11"
    ),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=list(TAMPERINGS))
def test_every_tampering_after_signing_fails_verification(
    tamper: Callable[[dict[str, Any]], None],
) -> None:
    # Given a signed batch, changed afterwards
    wire = signed_batch()
    tamper(wire)

    # Then
    with pytest.raises(ProofError):
        verify_document(wire, public(A_KEY), A)


def test_tampered_batches_with_restated_totals_still_parse_so_only_the_proof_catches_them() -> None:
    for name in ("line amount changed", "line added", "line removed", "currency changed"):
        wire = signed_batch()
        TAMPERINGS[name](wire)
        parse_batch_offer(wire)


def test_changed_total_alone_is_also_refused_at_parse() -> None:
    wire = signed_batch()
    TAMPERINGS["total changed"](wire)

    with pytest.raises(SettlementError, match="not the sum"):
        parse_batch_offer(wire)


def test_missing_proof_is_refused() -> None:
    wire = signed_batch()
    del wire["proof"]

    with pytest.raises(ProofError, match="proof"):
        verify_document(wire, public(A_KEY), A)


def test_proof_by_another_key_claiming_the_senders_method_is_refused() -> None:
    # Given B's key signing as if it were A's method
    forged = sign_document(build_batch_offer(make_offer()), B_KEY, A_METHOD)

    # Then
    with pytest.raises(ProofError, match="does not verify"):
        verify_document(forged, public(A_KEY), A)


def test_valid_proof_by_a_key_of_another_actor_is_refused() -> None:
    # Given a batch "from A" carrying a perfectly valid proof made by B's own key
    document = build_batch_offer(make_offer())
    forged = sign_document({**document, "actor": B}, B_KEY, B_METHOD)
    forged["actor"] = A

    # Then checking it against B's key still fails: the method is not A's
    with pytest.raises(ProofError, match="not a key of the document's actor"):
        verify_document(forged, public(B_KEY), A)


def test_document_from_another_sender_than_expected_is_refused() -> None:
    wire = signed_batch()

    with pytest.raises(ProofError, match="not the expected sender"):
        verify_document(wire, public(A_KEY), B)


@pytest.mark.parametrize(
    "method", [B_METHOD, A, f"{A}#", "https://a.example/actor/extra#key", f"{A}x#key"]
)
def test_signing_with_a_method_outside_the_documents_actor_is_refused(method: str) -> None:
    with pytest.raises(ProofError, match="verificationMethod"):
        sign_document(build_batch_offer(make_offer()), A_KEY, method)


@pytest.mark.parametrize("method", [f"{A}#other-key", B_METHOD, 5, None])
def test_proof_naming_another_method_is_refused(method: object) -> None:
    wire = signed_batch()
    wire["proof"]["verificationMethod"] = method

    with pytest.raises(ProofError):
        verify_document(wire, public(A_KEY), A)


@pytest.mark.parametrize("document", [None, [], "x", {"actor": 5}, {}])
def test_verifying_non_documents_raises_proof_error(document: object) -> None:
    with pytest.raises(ProofError):
        verify_document(document, public(A_KEY), A)


def test_batch_digest_is_sha256_of_the_jcs_form_including_the_proof() -> None:
    wire = signed_batch()

    digest = batch_digest(wire)

    assert digest == hashlib.sha256(canonicalize(wire)).hexdigest()
    reordered = dict(reversed(list(wire.items())))
    assert batch_digest(reordered) == digest
    resigned = sign_document(build_batch_offer(make_offer()), A_KEY, A_METHOD)
    resigned["proof"]["created"] = "2026-11-01T00:10:01Z"  # type: ignore[index]
    assert batch_digest(resigned) != digest


def test_batch_digest_of_an_uncanonicalizable_document_is_a_settlement_error() -> None:
    with pytest.raises(SettlementError):
        batch_digest({"value": 2**60})


def test_receipt_signed_by_the_recipient_proves_which_batch_it_accepts() -> None:
    # Given A's signed batch, as B received and stored it
    batch = signed_batch()
    offer = parse_batch_offer(batch)
    digest = batch_digest(batch)

    # When B answers with a signed receipt
    receipt_envelope = Envelope("https://b.example/receipts/7", B, A, WHEN)
    receipt = make_receipt(receipt_envelope, offer, digest, {})
    signed = json.loads(json.dumps(sign_document(build_receipt(receipt), B_KEY, B_METHOD)))

    # Then A (or anyone later) can check it against the stored batch
    verify_document(signed, public(B_KEY), B)
    check_receipt(offer, digest, parse_receipt(signed))
    tampered = copy.deepcopy(signed)
    tampered["result"]["batchDigest"] = "00" * 32
    with pytest.raises(ProofError):
        verify_document(tampered, public(B_KEY), B)


def test_every_document_kind_signs_and_verifies() -> None:
    notice = PaymentNotice(
        **envelope_fields(Envelope("https://a.example/payments/1", A, B, WHEN)),
        amount=Amount(600, "EUR", 2),
        reference="LIKEWISE-2026-10",
    )
    for document in (make_offer(), notice):
        signed = sign_document(build_settlement_document(document), A_KEY, A_METHOD)
        verify_document(signed, public(A_KEY), A)
        assert parse_settlement_document(signed) == document
