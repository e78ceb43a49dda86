"""Google Takeout for YouTube: the "Liked videos" playlist.

Shapes (REFERENCE.md "Bridged networks"):
- `Takeout/YouTube and YouTube Music/playlists/Liked videos.csv` (2022 on): a header row
  `Video ID,Playlist Video Creation Timestamp` ("2023-04-05T12:34:56+00:00"); older
  Takeouts (`likes.csv`) open with a playlist block, then a blank line, then
  `Video Id,Time Added` ("2019-03-01 12:34:56 UTC"). The header row is found, not assumed.
- The JSON variant (`playlists/likes.json`, `Liked videos.json`): a list of YouTube API
  playlist items (`snippet.resourceId.videoId`, `contentDetails.videoId`, `snippet.publishedAt`
  = when it was added), bare or under `items`. Where an item names the video's channel
  (`snippet.videoOwnerChannelId`) that is its creator; otherwise the file has no channel and
  the creator is None.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, open_upload
from bridges.importers.base import ImportedLike, ImportResult, Progress
from bridges.importers.fields import Meter, iso_time, text
from bridges.importers.jsonstream import iter_array, iter_keyed_array, top_level_kind

NETWORK = "youtube"
_CSV = re.compile(r"(?:^|/)playlists/(?:Liked videos|likes)\.csv$", re.IGNORECASE)
_JSON = re.compile(r"(?:^|/)playlists/(?:Liked videos|likes)\.json$", re.IGNORECASE)
_LONE = re.compile(r"^(?:Liked videos|likes)\.(?:csv|json)$", re.IGNORECASE)
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_MAX_CSV_FIELD = 4096


def _wanted(name: str) -> bool:
    normal = name.replace("\\", "/")
    return bool(_CSV.search(normal) or _JSON.search(normal))


class YoutubeImporter:
    network = NETWORK
    label = "YouTube (Google Takeout)"
    expects = (
        "Google Takeout for YouTube: the zip, or playlists/Liked videos.csv (or likes.json) from it"
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def matches(self, names: list[str]) -> bool:
        return any(_wanted(n) for n in names) or (len(names) == 1 and bool(_LONE.match(names[0])))

    def sniff(self, head: bytes) -> bool:
        first = head.lstrip(b"\xef\xbb\xbf")[:200].lower()
        return first.startswith((b"video id,", b"playlist id,", b"playlist id\t")) or (
            b'"youtube#playlistitem"' in head.lower()
        )

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(NETWORK)
        with open_upload(path, self.limits) as upload:
            names = [n for n in upload.names if _wanted(n)] if upload.is_zip else upload.names
            meter = Meter(progress, sum(upload.size(name) for name in names))
            base = 0
            for name in sorted(names):
                body = upload.read_text(name)
                if top_level_kind(body):
                    _read_json(body, name, result, meter, base)
                else:
                    _read_csv(body, name, result, meter, base)
                base += upload.size(name)
        meter.finish()
        return result


def _read_csv(body: str, name: str, result: ImportResult, meter: Meter, base: int) -> None:
    lines = body.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.lower().lstrip('"').startswith("video id")),
        -1,
    )
    if start < 0:
        raise ImportRefused(f"{name} has no “Video ID” column: expected Liked videos.csv")
    try:
        rows = csv.reader(io.StringIO("\n".join(lines[start:])))
        header = [column.strip().lower() for column in next(rows)]
        when = next((i for i, c in enumerate(header) if "timestamp" in c or "time" in c), -1)
        done = 0
        for row in rows:
            done += sum(len(field) for field in row) + len(row)
            if not row:
                continue
            like = _video(row[0].strip(), row[when] if 0 <= when < len(row) else None)
            if like is None or any(len(field) > _MAX_CSV_FIELD for field in row):
                result.skipped += 1
            else:
                result.likes.append(like)
            meter.advance_to(base + done)
    except csv.Error as error:
        raise ImportRefused(f"{name} is not a readable CSV file ({error})") from error


def _read_json(body: str, name: str, result: ImportResult, meter: Meter, base: int) -> None:
    if top_level_kind(body) == "[":
        elements = iter_array(body, 0, name)
    else:
        elements = iter_keyed_array(body, ("items",), name)
    for element, at in elements:
        like = _item(element)
        if like is None:
            result.skipped += 1
        else:
            result.likes.append(like)
        meter.advance_to(base + at)


def _item(item: Any) -> ImportedLike | None:
    if not isinstance(item, dict):
        return None
    snippet, details = _dict(item.get("snippet")), _dict(item.get("contentDetails"))
    resource = _dict(snippet.get("resourceId"))
    video_id = resource.get("videoId") or details.get("videoId")
    like = _video(video_id, snippet.get("publishedAt"), text(snippet.get("title")))
    channel = snippet.get("videoOwnerChannelId")
    if like is None or not isinstance(channel, str) or not _CHANNEL_ID.match(channel):
        return like
    owner = Creator(
        NETWORK,
        channel,
        text(snippet.get("videoOwnerChannelTitle"), 200),
        f"https://www.youtube.com/channel/{channel}",
    )
    return ImportedLike(NETWORK, like.item_id, like.item_url, owner, like.title, like.liked_at)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _video(video_id: Any, when: Any, title: str = "") -> ImportedLike | None:
    if not isinstance(video_id, str) or not _VIDEO_ID.match(video_id):
        return None
    return ImportedLike(
        network=NETWORK,
        item_id=video_id,
        item_url=f"https://www.youtube.com/watch?v={video_id}",
        creator=None,
        title=title,
        liked_at=iso_time(when),
    )
