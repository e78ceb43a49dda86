from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from bovine.crypto.types import CryptographicSecret

from activitypub.errors import ProofError
from activitypub.keys import (
    ed25519_private_from_multibase,
    ed25519_private_to_multibase,
    ed25519_public_to_multibase,
    generate_ed25519_key,
)
from activitypub.proofs import canonicalize, create_proof, verify_proof
from tests.support.payloads import load_json

VECTOR = load_json("ap_w3c_eddsa_jcs_2022.json")
ACTOR = "https://likewise.example/actor"
METHOD = f"{ACTOR}#ed25519-key"


def settlement() -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/data-integrity/v2",
        ],
        "id": "https://likewise.example/settlements/2026-10/peer.example",
        "type": "Offer",
        "actor": ACTOR,
        "object": {
            "type": "Settlement",
            "period": "2026-10",
            "lines": [{"creator": "https://peer.example/users/c", "amount": "450"}],
            "total": {"value": "450", "currency": "EUR", "scale": 2},
        },
    }


@pytest.mark.parametrize("case", VECTOR["cases"], ids=["did-key", "https"])
def test_w3c_eddsa_jcs_2022_vector(case: dict[str, str]) -> None:
    # Given the published key pair, document and proof options
    key = ed25519_private_from_multibase(VECTOR["keyPair"]["privateKeyMultibase"])
    assert (
        ed25519_public_to_multibase(key.public_key()) == (VECTOR["keyPair"]["publicKeyMultibase"])
    )

    # When
    secured = create_proof(
        VECTOR["unsecuredDocument"], key, case["verificationMethod"], created=case["created"]
    )

    # Then the proofValue is the published one, and it verifies
    assert secured["proof"]["proofValue"] == case["proofValue"]  # type: ignore[index]
    verify_proof(secured, VECTOR["keyPair"]["publicKeyMultibase"])


def test_w3c_vector_combined_hash() -> None:
    case = VECTOR["cases"][0]
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": case["created"],
        "verificationMethod": case["verificationMethod"],
        "proofPurpose": "assertionMethod",
        "@context": VECTOR["unsecuredDocument"]["@context"],
    }
    combined = (
        hashlib.sha256(canonicalize(options)).digest()
        + hashlib.sha256(canonicalize(VECTOR["unsecuredDocument"])).digest()
    )
    assert combined.hex() == case["combinedHashHex"]


def test_w3c_signed_document_with_proof_context_verifies() -> None:
    result = verify_proof(VECTOR["signedDocument"], VECTOR["keyPair"]["publicKeyMultibase"])

    assert result.verification_method.startswith("https://vc.example/issuers/5678#")


def test_round_trip() -> None:
    key = generate_ed25519_key()
    secured = create_proof(settlement(), key, METHOD)

    result = verify_proof(secured, ed25519_public_to_multibase(key.public_key()))

    assert result.verification_method == METHOD
    assert secured["proof"]["created"].endswith("Z")  # type: ignore[index]
    verify_proof(secured, key.public_key())


def test_private_key_multibase_round_trip() -> None:
    key = generate_ed25519_key()
    again = ed25519_private_from_multibase(ed25519_private_to_multibase(key))
    assert ed25519_public_to_multibase(again.public_key()) == ed25519_public_to_multibase(
        key.public_key()
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))]
    return [prefix]


def _tampered(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = f"{target[path[-1]]}x"
    return copied


SIGNING_KEY = generate_ed25519_key()
SECURED = create_proof(settlement(), SIGNING_KEY, METHOD)
PUBLIC = ed25519_public_to_multibase(SIGNING_KEY.public_key())


@pytest.mark.parametrize("path", _paths(SECURED), ids=lambda p: "/".join(map(str, p)))
def test_tampering_any_value_fails(path: tuple[Any, ...]) -> None:
    with pytest.raises(ProofError):
        verify_proof(_tampered(SECURED, path), PUBLIC)


@pytest.mark.parametrize("name", ["id", "type", "actor", "object", "@context"])
def test_removing_a_member_fails(name: str) -> None:
    document = {k: v for k, v in SECURED.items() if k != name}
    with pytest.raises(ProofError):
        verify_proof(document, PUBLIC)


def test_adding_a_member_fails() -> None:
    with pytest.raises(ProofError):
        verify_proof({**SECURED, "cc": ["https://evil.example/"]}, PUBLIC)


def test_wrong_key_fails() -> None:
    other = ed25519_public_to_multibase(generate_ed25519_key().public_key())
    with pytest.raises(ProofError):
        verify_proof(SECURED, other)


@pytest.mark.parametrize(
    "key", ["not-multibase", "z111", "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"]
)
def test_malformed_key_fails(key: str) -> None:
    with pytest.raises(ProofError):
        verify_proof(SECURED, key)


@pytest.mark.parametrize(
    "proof",
    [None, "z123", [], {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}],
)
def test_missing_or_foreign_proof_fails(proof: object) -> None:
    with pytest.raises(ProofError):
        verify_proof({**SECURED, "proof": proof}, PUBLIC)


def test_wrong_purpose_fails() -> None:
    with pytest.raises(ProofError):
        verify_proof(SECURED, PUBLIC, proof_purpose="authentication")


def test_big_integer_is_refused() -> None:
    document = {**settlement(), "amount": 2**53}

    with pytest.raises(ProofError):
        create_proof(document, SIGNING_KEY, METHOD)
    assert canonicalize({"amount": 2**53 - 1}) == b'{"amount":9007199254740991}'


def test_bovine_proofs_omit_the_context_and_are_refused() -> None:
    # bovine 0.5 hashes the proof options without the document's @context, which
    # the W3C vector above shows is wrong; record that its proofs do not verify.
    secret = CryptographicSecret.from_multibase(METHOD, VECTOR["keyPair"]["privateKeyMultibase"])
    signed: dict[str, Any] = secret.sign_document(settlement())

    with pytest.raises(ProofError):
        verify_proof(signed, VECTOR["keyPair"]["publicKeyMultibase"])
