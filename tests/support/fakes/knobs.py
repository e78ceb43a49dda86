"""What the fakes of bridged networks share in their rate limits and knobs: a rate window
that counts reads, the counting of reads past a limit (`rate_limited`; `over_limit` for a
client that came back without waiting), and the `oversized` answer (a body past what the
Fetcher reads), the knobs every likes list's fake has (`PageKnobs`), a per-token rate
window and one page of a newest-first list. Each fake keeps its own error bodies, headers
and the knobs of its own network."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol, TypeVar

from starlette.responses import Response

T = TypeVar("T")

OVERSIZED_BLANK = 3 * 1024 * 1024  # more than the Fetcher reads of one answer


@dataclass
class Window:
    """A rate window: when it began and the reads counted in it."""

    start: float = 0.0
    used: int = 0

    def count(self, now: float, seconds: float) -> int:
        """Count one read at `now`; a window older than `seconds` starts again."""
        if now - self.start >= seconds:
            self.start, self.used = now, 0
        self.used += 1
        return self.used


def token_window(
    windows: dict[str, Window], lock: threading.Lock, token: str, now: float, seconds: float
) -> Window:
    """Count one read of `token` at `now` in its own rate window (begun at its first read)."""
    with lock:
        window = windows.setdefault(token, Window(now))
        window.count(now, seconds)
    return window


def page_of(newest_first: list[T], page: int, per_page: int) -> tuple[list[T], int]:
    """Page `page` (from 1) of `per_page` items, and the number of the last page (1 for none)."""
    chosen = newest_first[(page - 1) * per_page : page * per_page]
    return chosen, max((len(newest_first) + per_page - 1) // per_page, 1)


@dataclass
class PageKnobs:
    """The knobs of every fake's likes list: the next `fail_5xx` calls fail, and a page is
    not JSON, past the Fetcher's limit, longer than asked, or lists its first item twice."""

    fail_5xx: int = 0
    malformed_json: bool = False
    oversized: bool = False
    too_many: bool = False
    duplicate: bool = False


def failing(knobs: PageKnobs) -> bool:
    """Whether this call answers a 5xx: one of the next `fail_5xx` calls, counted down."""
    if knobs.fail_5xx > 0:
        knobs.fail_5xx -= 1
        return True
    return False


class Limited(Protocol):
    rate_limited: int
    over_limit: int


def past_limit(fake: Limited, used: int, limit: int) -> bool:
    """Whether the `used`-th read is past `limit`; counts it as rate limited, and as over
    the limit once the client reads again after its first refusal (it did not wait)."""
    if used <= limit:
        return False
    fake.rate_limited += 1
    if used > limit + 1:
        fake.over_limit += 1
    return True


def oversized(
    opening: bytes, closing: bytes, media_type: str | None = "application/json"
) -> Response:
    """A document of the network's shape (`opening`, `closing`) blown past the Fetcher's
    limit with blanks."""
    return Response(opening + b" " * OVERSIZED_BLANK + closing, media_type=media_type)
