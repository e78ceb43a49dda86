"""Our signatures against two independent implementations: httpsig and bovine."""

from __future__ import annotations

from datetime import UTC, datetime

from bovine.clients.signed_http import legacy_digest_method
from bovine.crypto.http_signature import build_signature
from bovine.crypto.signature_checker import SignatureChecker
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret
from httpsig.sign import HeaderSigner
from httpsig.verify import HeaderVerifier

from activitypub.keys import RsaKeyPair
from activitypub.signatures import digest_header, http_date, sign_request, verify_request

KEY_ID = "https://remote.example/users/bob#main-key"
OWNER = "https://remote.example/users/bob"
INBOX = "https://likewise.example/users/alice/inbox"
BODY = b'{"type":"Like","actor":"https://remote.example/users/bob"}'


def test_httpsig_signed_post_verifies_with_ours(rsa_keys: RsaKeyPair) -> None:
    # Given a request signed by httpsig over Mastodon's header list
    signer = HeaderSigner(
        KEY_ID,
        rsa_keys.private_pem,
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    )
    headers = {"Host": "likewise.example", "Date": http_date(), "Digest": digest_header(BODY)}
    signed = dict(signer.sign(headers, method="POST", path="/users/alice/inbox"))

    # When / Then
    result = verify_request("POST", "/users/alice/inbox", signed, BODY, rsa_keys.public_pem)
    assert result.key_id == KEY_ID


def test_our_signed_get_verifies_with_httpsig(rsa_keys: RsaKeyPair) -> None:
    url = "https://likewise.example/users/alice?page=1"
    headers = sign_request("GET", url, {}, None, KEY_ID, rsa_keys.private_pem)

    verifier = HeaderVerifier(
        headers,
        rsa_keys.public_pem,
        required_headers=["(request-target)", "host", "date"],
        method="GET",
        path="/users/alice?page=1",
        sign_header="signature",
    )

    assert verifier.verify() is True


def test_our_signed_post_verifies_with_httpsig(rsa_keys: RsaKeyPair) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, rsa_keys.private_pem)

    verifier = HeaderVerifier(
        headers,
        rsa_keys.public_pem,
        required_headers=["(request-target)", "host", "date", "digest"],
        method="POST",
        path="/users/alice/inbox",
        sign_header="signature",
    )

    assert verifier.verify() is True


def test_bovine_signed_post_verifies_with_ours(rsa_keys: RsaKeyPair) -> None:
    # Given the headers bovine's signed_post builds (it also signs content-type)
    digest_name, digest = legacy_digest_method(BODY)  # type: ignore[no-untyped-call]
    helper = (
        build_signature(  # type: ignore[no-untyped-call]
            "likewise.example", "post", "/users/alice/inbox"
        )
        .with_field("date", http_date(datetime.now(UTC)))
        .with_field(digest_name, digest)
        .with_field("content-type", "application/activity+json")
    )
    secret = CryptographicSecret.from_pem(KEY_ID, rsa_keys.private_pem)
    headers = {**helper.headers, "signature": helper.sign_for_http_draft(secret)}

    result = verify_request("POST", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem)

    assert result.signed_headers == ("(request-target)", "host", "date", "digest", "content-type")


async def test_our_signed_post_verifies_with_bovine(rsa_keys: RsaKeyPair) -> None:
    signed = sign_request("POST", INBOX, {}, BODY, KEY_ID, rsa_keys.private_pem)
    headers = {name.lower(): value for name, value in signed.items()}

    async def retrieve(key_id: str) -> CryptographicIdentifier | None:
        if key_id != KEY_ID:
            return None
        identifier: CryptographicIdentifier = CryptographicIdentifier.from_pem(
            rsa_keys.public_pem, OWNER
        )
        return identifier

    async def body() -> bytes:
        return BODY

    checker = SignatureChecker(retrieve)

    assert await checker.validate_signature("post", INBOX, headers, body) == OWNER


async def test_our_signed_get_verifies_with_bovine(rsa_keys: RsaKeyPair) -> None:
    url = "https://likewise.example/users/alice"
    signed = sign_request("GET", url, {}, None, KEY_ID, rsa_keys.private_pem)
    headers = {name.lower(): value for name, value in signed.items()}

    async def retrieve(key_id: str) -> CryptographicIdentifier:
        identifier: CryptographicIdentifier = CryptographicIdentifier.from_pem(
            rsa_keys.public_pem, OWNER
        )
        return identifier

    checker = SignatureChecker(retrieve)

    assert await checker.validate_signature("get", url, headers, None) == OWNER
