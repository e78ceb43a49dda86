"""Business-rule failures. Each says what kind of failure it is, never how HTTP answers it:
server/errors.py is the one place a kind becomes a status code and a response body."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What went wrong, as the caller can act on it."""

    bad_request = "bad_request"  # the request cannot be read (bad JSON, no valid document)
    invalid = "invalid"  # a value is wrong: `field` names it when there is one
    refused = "refused"  # well-formed, but a rule refuses it; `code` gives the reason
    unauthorized = "unauthorized"  # who sent it is unknown or unproven
    forbidden = "forbidden"  # who sent it is known and may not do this
    not_found = "not_found"
    conflict = "conflict"  # it collides with what is already there
    too_large = "too_large"
    upstream = "upstream"  # another server failed to answer or answered nonsense
    unavailable = "unavailable"  # this instance cannot take it now; later may work


class ServiceError(Exception):
    """A domain failure: its kind, a message for people, a stable `code` for programs and,
    for a wrong value, the field that holds it."""

    kind: Kind = Kind.bad_request
    code: str = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    kind = Kind.invalid
    code = "validation_failed"


class NotFound(ServiceError):
    kind = Kind.not_found
    code = "not_found"


class Conflict(ServiceError):
    kind = Kind.conflict
    code = "conflict"


class Forbidden(ServiceError):
    kind = Kind.forbidden
    code = "forbidden"


class Unauthorized(ServiceError):
    kind = Kind.unauthorized
    code = "unauthorized"
