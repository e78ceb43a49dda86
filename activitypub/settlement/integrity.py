"""Embedded proofs on settlement documents, and the digest a receipt cites.

A document is signed by its sender's instance actor: the proof's
`verificationMethod` must be `<actor>#<fragment>` of the document's own `actor`, so
a valid proof made by another instance (with its own key) is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ed25519

from activitypub.errors import ProofError, SettlementError
from activitypub.proofs import VerifiedProof, canonicalize, create_proof, verify_proof


def _actor_of(document: Mapping[str, object]) -> str:
    actor = document.get("actor")
    if not isinstance(actor, str) or not actor:
        raise ProofError("document has no actor to check the proof against")
    return actor


def _belongs_to(verification_method: object, actor: str) -> bool:
    if not isinstance(verification_method, str):
        return False
    base, hash_sign, fragment = verification_method.partition("#")
    return base == actor and hash_sign == "#" and bool(fragment)


def sign_document(
    document: Mapping[str, object],
    private_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: datetime | str | None = None,
) -> dict[str, object]:
    """A copy of `document` with an `eddsa-jcs-2022` proof by its actor's key."""
    if not _belongs_to(verification_method, _actor_of(document)):
        raise ProofError("verificationMethod must be a key of the document's actor (<actor>#…)")
    return create_proof(document, private_key, verification_method, created=created)


def verify_document(
    document: object,
    public_key_multibase: str | ed25519.Ed25519PublicKey,
    expected_sender: str,
) -> VerifiedProof:
    """Verify that `expected_sender` sent and signed `document`, or raise `ProofError`.

    `public_key_multibase` is the sender's FEP-521a `assertionMethod` key, resolved
    and trusted by the caller; the proof must name a method of the document's actor.
    """
    if not isinstance(document, Mapping):
        raise ProofError("document is not a JSON object")
    actor = _actor_of(document)
    if actor != expected_sender:
        raise ProofError(f"document actor {actor[:200]} is not the expected sender")
    proof = document.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    if not _belongs_to(method, actor):
        raise ProofError("proof verificationMethod is not a key of the document's actor")
    return verify_proof(document, public_key_multibase)


def batch_digest(document: Mapping[str, object]) -> str:
    """Hex SHA-256 of the RFC 8785 form of the whole document as received, proof included.

    Works for any settlement document; receipts cite a batch by it.
    """
    try:
        return hashlib.sha256(canonicalize(document)).hexdigest()
    except ProofError as error:
        raise SettlementError(str(error)) from error
