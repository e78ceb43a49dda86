"""Business-rule failures. Each says what kind of failure it is, never how HTTP answers it:
server/errors.py is the one place a kind becomes a status code and a response body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

Done = TypeVar("Done")
Page = TypeVar("Page")


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


@dataclass(frozen=True)
class Outcome(Generic[Done, Page]):
    """What a form's action came to, in one service call: what it did, or the refusal with
    the page to show it on (read afresh, after the refused transaction rolled back); `page`
    may also come with `done` when the form's page is shown again after the action."""

    done: Done | None = None
    page: Page | None = None
    error: ServiceError | None = None


async def attempt(
    action: Awaitable[Done], page: Callable[[], Awaitable[Page]]
) -> Outcome[Done, Page]:
    """Run `action`; when it is refused, read the page that shows the refusal."""
    try:
        done = await action
    except ServiceError as error:
        return Outcome(page=await page(), error=error)
    return Outcome(done=done)
