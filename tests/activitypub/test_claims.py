"""The claim documents (activitypub/claims.py): built, signed, parsed back to the same
value; anything unknown or malformed refused; the trust rules a receiver applies."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from activitypub.claims import (
    CLAIMS_CONTEXT,
    ClaimAnnouncement,
    ClaimAnswer,
    ClaimMethod,
    ClaimStatus,
    IdentityClaim,
    announcement_id,
    build_announcement,
    build_answer,
    check_claim_origin,
    is_claim_document,
    parse_claim_document,
)
from activitypub.errors import ProofError, SettlementError
from activitypub.keys import ed25519_public_to_multibase
from activitypub.settlement import SETTLEMENT_CONTEXT, sign_document, verify_document

BETA = "https://beta.example/actor"
ALPHA = "https://alpha.example/actor"
CAROL = "https://beta.example/users/carol"
WHEN = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def _announcement(claim: IdentityClaim, *, withdrawn: bool = False) -> ClaimAnnouncement:
    return ClaimAnnouncement(
        id=announcement_id("https://beta.example", claim, ALPHA),
        actor=BETA,
        recipient=ALPHA,
        published=WHEN,
        claim=claim,
        withdrawn=withdrawn,
    )


BLUESKY = IdentityClaim(CAROL, "bluesky", "did:plc:abc", "@carol.bsky.social", ClaimMethod.OAUTH)


def test_an_announcement_round_trips_signed_and_verifies() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    document = sign_document(build_announcement(_announcement(BLUESKY)), key, f"{BETA}#ed25519-key")
    assert is_claim_document(document) and document["type"] == "Add"
    assert parse_claim_document(document) == _announcement(BLUESKY)
    verify_document(document, ed25519_public_to_multibase(key.public_key()), BETA)
    tampered = copy.deepcopy(document)
    tampered["object"]["externalId"] = "did:plc:other"  # type: ignore[index]
    with pytest.raises(ProofError):
        verify_document(tampered, ed25519_public_to_multibase(key.public_key()), BETA)


def test_a_withdrawal_is_a_remove_of_the_same_claim() -> None:
    document = build_announcement(_announcement(BLUESKY, withdrawn=True))
    assert document["type"] == "Remove"
    parsed = parse_claim_document(document)
    assert isinstance(parsed, ClaimAnnouncement) and parsed.withdrawn


def test_the_id_is_stable_per_claim_and_recipient() -> None:
    again = IdentityClaim(CAROL, "bluesky", "did:plc:abc", "@renamed", ClaimMethod.OAUTH)
    first = announcement_id("https://beta.example", BLUESKY, ALPHA)
    assert first == announcement_id("https://beta.example", again, ALPHA)
    assert first != announcement_id("https://beta.example", BLUESKY, "https://gamma.example/actor")


@pytest.mark.parametrize("status", list(ClaimStatus))
def test_answers_round_trip(status: ClaimStatus) -> None:
    answer = ClaimAnswer(
        id="https://alpha.example/settlements/1",
        actor=ALPHA,
        recipient=BETA,
        published=WHEN,
        announcement_id="https://beta.example/claims/x",
        status=status,
        summary="" if status is ClaimStatus.ACCEPTED else "claimed here too",
    )
    document = build_answer(answer)
    assert document["type"] == ("Accept" if status is ClaimStatus.ACCEPTED else "Reject")
    assert parse_claim_document(document) == answer


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update({"@context": SETTLEMENT_CONTEXT}),
        lambda d: d.update({"type": "Offer"}),
        lambda d: d.update({"extra": 1}),
        lambda d: d["object"].update({"amount": "1"}),
        lambda d: d["object"].update({"method": "trust-me"}),
        lambda d: d["object"].update({"network": "Blue Sky"}),
        lambda d: d["object"].update({"externalId": "did:plc:a b"}),
        lambda d: d["object"].update({"externalId": "x" * 2049}),
        lambda d: d["object"].update({"handle": "\u0000"}),
        lambda d: d["object"].update({"claimant": "javascript:alert(1)"}),
        lambda d: d["object"].update({"type": "Note"}),
        lambda d: d.update({"to": [ALPHA, BETA]}),
        lambda d: d.pop("published"),
    ],
)
def test_anything_unknown_or_malformed_is_refused(change: object) -> None:
    document = build_announcement(_announcement(BLUESKY))
    change(document)  # type: ignore[operator]
    with pytest.raises(SettlementError):
        parse_claim_document(document)


def test_an_accept_must_say_accepted() -> None:
    answer = ClaimAnswer(
        id="https://alpha.example/a",
        actor=ALPHA,
        recipient=BETA,
        published=WHEN,
        announcement_id="https://beta.example/claims/x",
        status=ClaimStatus.CONTESTED,
    )
    document = build_answer(answer)
    document["type"] = "Accept"
    with pytest.raises(SettlementError):
        parse_claim_document(document)
    assert CLAIMS_CONTEXT != SETTLEMENT_CONTEXT


@pytest.mark.parametrize(
    ("claim", "allowed"),
    [
        (BLUESKY, True),
        (IdentityClaim(CAROL, "fediverse", CAROL, "", ClaimMethod.HOME_INSTANCE), True),
        (
            IdentityClaim(CAROL, "fediverse", "https://m.example/users/c", "", ClaimMethod.REL_ME),
            True,
        ),
        # a peer speaks only for its own actors
        (
            IdentityClaim(
                "https://gamma.example/users/x", "bluesky", "did:plc:abc", "", ClaimMethod.OAUTH
            ),
            False,
        ),
        (
            IdentityClaim(
                "http://beta.example/users/carol", "bluesky", "did:plc:a", "", ClaimMethod.OAUTH
            ),
            False,
        ),
        # its own actors by home-instance, others only by a proof
        (IdentityClaim(CAROL, "fediverse", CAROL, "", ClaimMethod.REL_ME), False),
        (
            IdentityClaim(
                CAROL, "fediverse", "https://m.example/users/c", "", ClaimMethod.HOME_INSTANCE
            ),
            False,
        ),
        (IdentityClaim(CAROL, "bluesky", "did:plc:abc", "", ClaimMethod.HOME_INSTANCE), False),
    ],
)
def test_the_trust_rules(claim: IdentityClaim, allowed: bool) -> None:
    announcement = _announcement(claim)
    if allowed:
        check_claim_origin(announcement)
    else:
        with pytest.raises(SettlementError):
            check_claim_origin(announcement)


def test_a_fediverse_identity_is_an_actor_uri() -> None:
    with pytest.raises(SettlementError):
        IdentityClaim(CAROL, "fediverse", "did:plc:abc", "", ClaimMethod.REL_ME)
