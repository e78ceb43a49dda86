"""Business-rule failures. Each says what kind of failure it is, never how HTTP answers it:
server/errors.py is the one place a kind becomes a status code and a response body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

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


class FieldErrors(ServiceError):
    """Several refusals of one form, each for its own field, found in one pass so a person
    corrects them all at once. Its kind, code, message and field are the first refusal's
    (an API that answers with one error answers as before); `fields` holds every field's
    message, `errors` every refusal."""

    def __init__(self, errors: Sequence[ServiceError]) -> None:
        first = errors[0]
        super().__init__(first.message, field=first.field)
        self.kind = first.kind
        self.code = first.code
        self.errors = tuple(errors)
        self.fields: dict[str, str] = {}
        for error in self.errors:
            if error.field:
                self.fields.setdefault(error.field, error.message)


class FieldChecks:
    """Runs a form's checks one after another, keeping each refusal instead of stopping at
    the first: `check` answers the checked value (None when refused), `done` raises them."""

    def __init__(self) -> None:
        self.errors: list[ServiceError] = []

    def check(self, checker: Callable[..., Done], *args: Any, **kwargs: Any) -> Done | None:
        try:
            return checker(*args, **kwargs)
        except ServiceError as error:
            self.add(error)
            return None

    def add(self, error: ServiceError) -> None:
        if isinstance(error, FieldErrors):
            self.errors.extend(error.errors)
        elif error.field is None or error.field not in {e.field for e in self.errors}:
            self.errors.append(error)

    def refused(self, field: str) -> bool:
        return any(error.field == field for error in self.errors)

    def done(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FieldErrors(self.errors)
