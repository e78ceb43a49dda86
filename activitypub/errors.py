"""Exception hierarchy of the `activitypub` library.

Every failure this package reports is an `ActivityPubError`; callers map the
subclasses to HTTP answers (401 for signatures, 400 for documents, ...).
"""

from __future__ import annotations

from enum import StrEnum


class ActivityPubError(Exception):
    """Base of every error raised by this package."""


class InvalidKey(ActivityPubError):
    """A key could not be decoded, or is not of the expected kind."""


class SignatureFailure(StrEnum):
    MISSING_HEADER = "missing_header"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    INSUFFICIENT_HEADERS = "insufficient_headers"
    BAD_DIGEST = "bad_digest"
    EXPIRED = "expired"
    INVALID_KEY = "invalid_key"
    BAD_SIGNATURE = "bad_signature"


class SignatureError(ActivityPubError):
    """An HTTP signature is missing, malformed, stale or does not verify."""

    def __init__(self, reason: SignatureFailure, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class ProofError(ActivityPubError):
    """A Data Integrity proof is missing, malformed or does not verify."""


class InvalidDocument(ActivityPubError):
    """A JSON document (JRD, NodeInfo, ...) does not have the expected shape."""


class InvalidActivity(InvalidDocument):
    """An ActivityStreams document (activity, actor, note) is malformed or hostile."""


class InvalidHandle(InvalidDocument):
    """A WebFinger resource or fediverse handle cannot be parsed."""


class SettlementError(InvalidDocument):
    """A settlement, receipt, payment or peering document is malformed or inconsistent."""


class FetchError(ActivityPubError):
    """A remote request failed or was refused before or after being sent."""


class BlockedAddress(FetchError):
    """The URL's scheme or resolved address is refused (SSRF guard)."""


class ResponseTooLarge(FetchError):
    """The response body exceeded the configured size limit."""


class FetchTimeout(FetchError):
    """The remote server did not answer in time."""


class UnexpectedStatus(FetchError):
    """The remote server answered a fetch with a non-2xx status."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"{url} answered {status}")
        self.status = status
        self.url = url


class UnexpectedContentType(FetchError):
    """The remote server answered with something other than ActivityPub JSON."""


class InvalidResponse(FetchError):
    """The body is not a JSON object, or redirects went on too long."""


class IdMismatch(FetchError):
    """The fetched document's `id` is not the URL it was fetched from."""
