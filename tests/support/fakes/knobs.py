"""What the fakes of bridged networks share in their rate limits and knobs: a rate window
that counts reads, the counting of reads past a limit (`rate_limited`; `over_limit` for a
client that came back without waiting), and the `oversized` answer (a body past what the
Fetcher reads). Each fake keeps its own error bodies, headers and knobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.responses import Response

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
