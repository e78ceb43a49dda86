"""What every data-export importer gives: the likes a person's own download of their data
holds, parsed without trusting it (sizes, zip members, paths, encodings all checked).

An importer is a pure parser: a file (or a zip holding it) in, typed likes out. It never
fetches anything; resolving an item to its creator where the file does not say (an X like,
a Mastodon archive's status URI) is the server's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bridges.base import Creator

Progress = Callable[[int, int], None]  # (bytes or items done, total), called now and then


@dataclass(frozen=True)
class ImportedLike:
    network: str  # "instagram", "facebook", "x", "youtube", "mastodon", "bluesky"
    item_id: str  # the network's id of the liked item (or its URL where it has no id)
    item_url: str  # the item's canonical address: the server's Thing.uri
    creator: Creator | None  # None where the file does not say (resolved later, or waits)
    title: str = ""
    liked_at: datetime | None = None  # None where the file has no time


@dataclass
class ImportResult:
    network: str
    likes: list[ImportedLike] = field(default_factory=list)
    skipped: int = 0  # entries that were not likes of an item (or unreadable), not counted
    notes: list[str] = field(default_factory=list)  # what the person should know, in words


class Importer(Protocol):
    network: str
    label: str  # "Instagram data download (JSON)"
    expects: str  # what file to upload, in words, for error messages and the page

    def matches(self, names: list[str]) -> bool:
        """Whether an archive with these member names (or one file's name) is this format."""
        ...

    def sniff(self, head: bytes) -> bool:
        """Whether a single uploaded file starting with these bytes is this format (uploads
        are often stored under a temporary name, so a lone file is recognised by content)."""
        ...

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult: ...
