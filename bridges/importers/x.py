"""The X (Twitter) archive: `data/like.js` (and `data/like-partN.js` in large archives).

Shape (REFERENCE.md "Bridged networks"): JavaScript assigning one JSON array,
`window.YTD.like.part0 = [{"like": {"tweetId": "…", "fullText": "…", "expandedUrl":
"https://twitter.com/i/web/status/…"}}]`. No like time, and no author: the author's handle
is read from `expandedUrl` where it is `https://twitter.com/<handle>/status/<id>` (or x.com),
else the like's creator is None and the server resolves or parks it. `item_url` is always
`https://x.com/i/web/status/<id>`, so one tweet has one address whatever the archive wrote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, open_upload
from bridges.importers.base import ImportedLike, ImportResult, Progress
from bridges.importers.fields import Meter, https_url, text
from bridges.importers.jsonstream import iter_array

NETWORK = "x"
_MEMBER = re.compile(r"(?:^|/)data/like(?:-part\d+)?\.js$")
_LONE = re.compile(r"^like(?:-part\d+)?\.js$")
_PREFIX = re.compile(r"^\s*window\.YTD\.like\.part\d+\s*=\s*")
_TWEET_ID = re.compile(r"^[0-9]{1,25}$")
_STATUS = re.compile(
    r"^https://(?:www\.|mobile\.)?(?:twitter|x)\.com/([A-Za-z0-9_]{1,15})/status(?:es)?/([0-9]{1,25})"
)
_NOT_HANDLES = {"i", "home", "search", "intent", "share", "hashtag", "settings"}


def creator(handle: str) -> Creator:
    return Creator(NETWORK, handle.lower(), f"@{handle}", f"https://x.com/{handle}")


class XImporter:
    network = NETWORK
    label = "X (Twitter) archive"
    expects = "your X (Twitter) archive: the zip, or data/like.js from it"

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def matches(self, names: list[str]) -> bool:
        return any(_MEMBER.search(n.replace("\\", "/")) or _LONE.match(n) for n in names)

    def sniff(self, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"window.YTD.like.part")

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(NETWORK)
        with open_upload(path, self.limits) as upload:
            names = (
                [n for n in upload.names if _MEMBER.search(n.replace("\\", "/"))]
                if upload.is_zip
                else upload.names
            )
            meter = Meter(progress, sum(upload.size(name) for name in names))
            base = 0
            for name in sorted(names, key=_part):
                _read_member(upload.read_text(name), name, result, meter, base)
                base += upload.size(name)
        meter.finish()
        if result.likes:
            result.notes.append(
                "X archives give no time for likes: those already there at the first import "
                "are taken as older ones, and only those new in a later import count"
            )
        return result


def _part(name: str) -> int:
    """like.js is part 0, like-part1.js part 1, …"""
    number = re.search(r"-part(\d+)\.js$", name)
    return int(number.group(1)) if number else 0


def _read_member(body: str, name: str, result: ImportResult, meter: Meter, base: int) -> None:
    prefix = _PREFIX.match(body)
    if prefix is None:
        raise ImportRefused(
            f"{name} does not start with window.YTD.like.part0 = : expected the like.js "
            "of an X archive"
        )
    for element, at in iter_array(body, prefix.end(), name):
        like = _like(element)
        if like is None:
            result.skipped += 1
        else:
            result.likes.append(like)
        meter.advance_to(base + at)


def _like(entry: Any) -> ImportedLike | None:
    like = entry.get("like") if isinstance(entry, dict) else None
    if not isinstance(like, dict):
        return None
    tweet_id = like.get("tweetId")
    if not isinstance(tweet_id, str) or not _TWEET_ID.match(tweet_id):
        return None
    author = None
    expanded = https_url(like.get("expandedUrl"), ("twitter.com", "x.com"))
    match = _STATUS.match(expanded or "")
    if match and match.group(2) == tweet_id and match.group(1).lower() not in _NOT_HANDLES:
        author = creator(match.group(1))
    return ImportedLike(
        network=NETWORK,
        item_id=tweet_id,
        item_url=f"https://x.com/i/web/status/{tweet_id}",
        creator=author,
        title=text(like.get("fullText"), 280),
        liked_at=None,
    )
