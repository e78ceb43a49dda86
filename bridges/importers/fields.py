"""What every parser checks the same way: times, addresses, member names, progress."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bridges.importers.base import Progress

MAX_URL = 2048
_HTTPS = re.compile(
    r"https://([A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63})(?::[0-9]{1,5})?"
    r"(?:[/?#][^\s\x00-\x1f\x7f]*)?",
    re.ASCII | re.DOTALL,
)
# Unix seconds from 2004 (the oldest of these networks) to 2100: anything else is no time.
_EARLIEST = 1_072_915_200
_LATEST = 4_102_444_800


def unix_time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not _EARLIEST <= value < _LATEST:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time ("2024-05-01T10:00:00.000Z", "2019-03-01 12:34:56 UTC"), in UTC."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip().replace(" UTC", "+00:00")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def https_url(value: Any, hosts: tuple[str, ...] = ()) -> str | None:
    """`value` if it is an https URL (on one of `hosts` or their subdomains, if given): a
    plain host name, no user info, no spaces or control characters."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    match = _HTTPS.fullmatch(value)
    if match is None:
        return None
    host = match.group(1).lower()
    if hosts and not any(host == h or host.endswith("." + h) for h in hosts):
        return None
    return value


def text(value: Any, limit: int = 500) -> str:
    return value[:limit] if isinstance(value, str) else ""


def members_ending(names: list[str], *suffixes: str) -> list[str]:
    """The member names ending with one of `suffixes` (after a folder boundary), sorted."""
    found = []
    for name in names:
        normal = "/" + name.replace("\\", "/")
        if any(normal.endswith("/" + suffix) for suffix in suffixes):
            found.append(name)
    return sorted(found)


class Meter:
    """Calls `progress(done, total)` every `every` steps and at the end, never more often."""

    def __init__(self, progress: Progress | None, total: int, every: int = 2000) -> None:
        self.progress = progress
        self.total = max(total, 1)
        self.every = every
        self.done = 0
        self._steps = 0

    def advance_to(self, done: int) -> None:
        self.done = min(done, self.total)
        self._steps += 1
        if self.progress is not None and self._steps % self.every == 0:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)
