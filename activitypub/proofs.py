"""FEP-8b32 Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite.

Signed bytes: SHA-256(JCS(proof options without proofValue, carrying the
document's `@context`)) followed by SHA-256(JCS(document without proof)),
signed with Ed25519; `proofValue` is `z` + base58btc of the signature.
JCS (RFC 8785) refuses integers beyond 2^53-1, so amounts travel as strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from activitypub.errors import InvalidKey, ProofError
from activitypub.keys import ed25519_public_from_multibase

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION_METHOD = "assertionMethod"


@dataclass(frozen=True)
class VerifiedProof:
    verification_method: str
    proof_purpose: str
    created: str | None


SAFE_INTEGER = 2**53 - 1


def _plain_json(value: object) -> bool:
    """Whether `value` holds only strings, safe integers, booleans, null, lists and objects
    with ASCII keys: then the standard library's sorted, compact JSON is byte for byte the
    RFC 8785 form (same escapes, and code-point order equals UTF-16 order for ASCII keys).
    Anything else (floats, other key characters, other types) takes the full algorithm."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -SAFE_INTEGER <= item <= SAFE_INTEGER:  # type: ignore[operator]
                continue
            return False
        if kind is dict:
            for key, inner in item.items():  # type: ignore[attr-defined]
                if type(key) is not str or not key.isascii():
                    return False
                stack.append(inner)
            continue
        if kind is list:
            stack.extend(item)  # type: ignore[arg-type]
            continue
        return False
    return True


def canonicalize(value: object) -> bytes:
    """RFC 8785 JSON Canonicalization; refuses values JCS cannot represent exactly.
    Plain documents (all of ours) take a fast path proved equal by a property test."""
    try:
        if _plain_json(value):
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return text.encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        pass  # lone surrogates and the like: the full algorithm says what is wrong
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as error:
        raise ProofError(f"document cannot be canonicalized: {error}") from error


def _format_created(created: datetime | str | None) -> str:
    if isinstance(created, str):
        return created
    moment = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash_data(options: Mapping[str, object], document: Mapping[str, object]) -> bytes:
    config = dict(options)
    if "@context" in document:
        config["@context"] = document["@context"]
    return (
        hashlib.sha256(canonicalize(config)).digest()
        + hashlib.sha256(canonicalize(document)).digest()
    )


def create_proof(
    document: Mapping[str, object],
    private_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: datetime | str | None = None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, object]:
    """Return a copy of `document` with an `eddsa-jcs-2022` `proof` added."""
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    options: dict[str, object] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
        "created": _format_created(created),
    }
    signature = private_key.sign(_hash_data(options, unsecured))
    proof = {**options, "proofValue": "z" + base58.b58encode(signature).decode("ascii")}
    return {**unsecured, "proof": proof}


def _require_str(proof: Mapping[str, object], name: str) -> str:
    value = proof.get(name)
    if not isinstance(value, str) or not value:
        raise ProofError(f"proof.{name} must be a non-empty string")
    return value


def _decode_proof_value(value: str) -> bytes:
    if not value.startswith("z"):
        raise ProofError("proofValue must be base58btc multibase (start with 'z')")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError as error:
        raise ProofError("proofValue is not base58") from error
    if len(signature) != 64:
        raise ProofError("proofValue is not an Ed25519 signature")
    return signature


def _context_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _unsecured_document(
    document: Mapping[str, object], options: Mapping[str, object]
) -> dict[str, object]:
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    if "@context" in options:
        proof_context = _context_list(options["@context"])
        document_context = _context_list(document.get("@context"))
        if document_context[: len(proof_context)] != proof_context:
            raise ProofError("proof @context is not a prefix of the document @context")
        unsecured["@context"] = options["@context"]
    return unsecured


def _public_key(key: str | ed25519.Ed25519PublicKey) -> ed25519.Ed25519PublicKey:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    try:
        return ed25519_public_from_multibase(key)
    except InvalidKey as error:
        raise ProofError(str(error)) from error


def _check_expiry(proof: Mapping[str, object], now: datetime) -> None:
    expires = proof.get("expires")
    if expires is None:
        return
    if not isinstance(expires, str):
        raise ProofError("proof.expires must be a date-time string")
    try:
        moment = datetime.fromisoformat(expires)
    except ValueError as error:
        raise ProofError("proof.expires is not a date-time") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment < now:
        raise ProofError("proof has expired")


def verify_proof(
    document: Mapping[str, object],
    public_key: str | ed25519.Ed25519PublicKey,
    proof_purpose: str = ASSERTION_METHOD,
    now: datetime | None = None,
) -> VerifiedProof:
    """Verify the document's single `eddsa-jcs-2022` proof, or raise `ProofError`.

    The caller resolves `verificationMethod` to a key it trusts (and checks the
    key's controller) before calling; `public_key` is that key.
    """
    proof = document.get("proof")
    if not isinstance(proof, Mapping):
        raise ProofError("document has no single proof object")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"proof is not a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    if _require_str(proof, "proofPurpose") != proof_purpose:
        raise ProofError(f"proofPurpose is not {proof_purpose}")
    verification_method = _require_str(proof, "verificationMethod")
    signature = _decode_proof_value(_require_str(proof, "proofValue"))
    _check_expiry(proof, now or datetime.now(UTC))
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    unsecured = _unsecured_document(document, options)
    options.pop("@context", None)
    try:
        _public_key(public_key).verify(signature, _hash_data(options, unsecured))
    except InvalidSignature as error:
        raise ProofError("proof signature does not verify") from error
    created = proof.get("created")
    return VerifiedProof(
        verification_method=verification_method,
        proof_purpose=proof_purpose,
        created=created if isinstance(created, str) else None,
    )
