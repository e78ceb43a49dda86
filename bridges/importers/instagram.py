"""Instagram's "Download your information" (JSON): the posts the person liked.

Shapes read (REFERENCE.md "Bridged networks"; public parsers of the same files agree):
- `your_instagram_activity/likes/liked_posts.json` (2023 on) and `likes/liked_posts.json`
  (2020-2023): `{"likes_media_likes": [{"title": "<owner username>", "string_list_data":
  [{"href": "https://www.instagram.com/p/<code>/", "value": "…", "timestamp": <unix>}]}]}`;
  some downloads write the bare list without the `likes_media_likes` wrapper.
- Newer entries may carry `label_values` (`{"label": "URL", "value"/"href": …}`, an owner
  `{"label": "Username", "value": …}` somewhere below) and a top-level `timestamp`.
- The oldest (2018-2019) `likes.json` `{"media_likes": [[time, owner], …]}` names no post:
  it is recognised and reported, nothing is imported from it.
HTML downloads are refused with a message asking for the JSON format. Meta writes strings
as latin-1-read UTF-8, undone here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, fix_mojibake, open_upload
from bridges.importers.base import ImportedLike, ImportResult, Progress
from bridges.importers.fields import Meter, https_url, members_ending, unix_time
from bridges.importers.jsonstream import iter_array, iter_keyed_array, top_level_kind

NETWORK = "instagram"
_JSON = ("likes/liked_posts.json",)
_OLDEST = ("likes/likes.json",)
_HTML = ("likes/liked_posts.html", "likes/likes.html")
_HOSTS = ("instagram.com",)
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_POST = re.compile(r"^/(?:[A-Za-z0-9._]+/)?(?:p|reel|reels|tv)/([A-Za-z0-9_-]{5,64})/?$")


def creator(username: str) -> Creator | None:
    if not _USERNAME.match(username):
        return None
    name = username.lower()
    return Creator(NETWORK, name, f"@{name}", f"https://www.instagram.com/{name}/")


class InstagramImporter:
    network = NETWORK
    label = "Instagram data download (JSON)"
    expects = (
        "Instagram's “Download your information” in JSON format: the zip, or "
        "your_instagram_activity/likes/liked_posts.json from it"
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def matches(self, names: list[str]) -> bool:
        return bool(members_ending(names, *_JSON, *_OLDEST, *_HTML))

    def sniff(self, head: bytes) -> bool:
        return (
            b'"likes_media_likes"' in head
            or b'"media_likes"' in head
            or (b'"string_list_data"' in head and b"instagram.com" in head)
            or (b'"label_values"' in head and b"instagram.com" in head)
        )

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(NETWORK)
        with open_upload(path, self.limits) as upload:
            names = members_ending(upload.names, *_JSON) if upload.is_zip else upload.names
            if upload.is_zip and not names:
                if members_ending(upload.names, *_HTML):
                    raise ImportRefused(
                        "this is Instagram's HTML download; request the download again in "
                        "JSON format (Format: JSON in “Download your information”)"
                    )
                names = members_ending(upload.names, *_OLDEST)
            meter = Meter(progress, sum(upload.size(name) for name in names))
            base = 0
            for name in names:
                _read_member(upload.read_text(name), name, result, meter, base)
                base += upload.size(name)
        meter.finish()
        return result


def _read_member(body: str, name: str, result: ImportResult, meter: Meter, base: int) -> None:
    kind = top_level_kind(body)
    if kind == "" and body.lstrip()[:1] == "<":
        raise ImportRefused(f"{name} is an HTML page; request Instagram's download in JSON format")
    if kind == "[":
        elements = iter_array(body, 0, name)
    elif kind == "{":
        if '"media_likes"' in body[:200] and '"likes_media_likes"' not in body[:200]:
            _oldest(body, name, result)
            return
        elements = iter_keyed_array(body, ("likes_media_likes",), name)
    else:
        raise ImportRefused(f"{name} is not JSON; expected Instagram's liked_posts.json")
    for element, at in elements:
        like = _like(element)
        if like is None:
            result.skipped += 1
        else:
            result.likes.append(like)
        meter.advance_to(base + at)


def _oldest(body: str, name: str, result: ImportResult) -> None:
    count = sum(1 for _ in iter_keyed_array(body, ("media_likes",), name))
    result.skipped += count
    result.notes.append(
        f"{name} is the oldest Instagram format: it names the accounts but not the posts, "
        "so its likes cannot be counted; a new download has liked_posts.json"
    )


def _like(entry: Any) -> ImportedLike | None:
    if not isinstance(entry, dict):
        return None
    owner = entry.get("title")
    href, stamp = None, entry.get("timestamp")
    data = entry.get("string_list_data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        href, stamp = data[0].get("href"), data[0].get("timestamp", stamp)
    labels = entry.get("label_values")
    if href is None and isinstance(labels, list):
        href = _label(labels, "URL", "href") or _label(labels, "URL", "value")
        owner = owner or _label(labels, "Username", "value")
    url = https_url(href, _HOSTS)
    if url is None:
        return None
    match = _POST.match(_path(url))
    item_id = match.group(1) if match else url
    name = fix_mojibake(owner) if isinstance(owner, str) else ""
    return ImportedLike(
        network=NETWORK,
        item_id=item_id,
        item_url=f"https://www.instagram.com/p/{item_id}/" if match else url,
        creator=creator(name),
        title=name,
        liked_at=unix_time(stamp),
    )


def _label(values: list[Any], label: str, key: str, depth: int = 0) -> str | None:
    """The `key` of the first `{"label": label}` in `values` or the dicts nested below."""
    if depth > 4:
        return None
    for value in values:
        if not isinstance(value, dict):
            continue
        if value.get("label") == label and isinstance(value.get(key), str):
            return str(value[key])
        nested = value.get("dict")
        if isinstance(nested, list):
            found = _label(nested, label, key, depth + 1)
            if found:
                return found
    return None


def _path(url: str) -> str:
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    return rest[slash:].split("?", 1)[0].split("#", 1)[0] if slash >= 0 else "/"
