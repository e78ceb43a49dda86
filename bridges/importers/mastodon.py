"""A Mastodon account archive ("Request your archive"): `likes.json`.

Shape (REFERENCE.md "Bridged networks"): an ActivityStreams OrderedCollection,
`{"@context": …, "id": "likes.json", "type": "OrderedCollection", "orderedItems":
["https://host/users/alice/statuses/1", …]}`. Each item is a status URI: `item_id` and
`item_url` are that URI (the fediverse bridge's `Thing.uri`), the creator is None (the
server resolves each over ActivityPub), no like time. Only https URIs are kept. The zip is
recognised by `likes.json` beside the archive's `actor.json` or `outbox.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, open_upload
from bridges.importers.base import ImportedLike, ImportResult, Progress
from bridges.importers.fields import Meter, https_url
from bridges.importers.jsonstream import iter_keyed_array, top_level_kind

NETWORK = "mastodon"


def _root(names: list[str]) -> str | None:
    """The folder holding `likes.json` beside `actor.json` or `outbox.json`, if any."""
    for name in names:
        normal = name.replace("\\", "/")
        if normal == "likes.json" or normal.endswith("/likes.json"):
            folder = normal[: -len("likes.json")]
            if f"{folder}actor.json" in names or f"{folder}outbox.json" in names:
                return name
    return None


class MastodonImporter:
    network = NETWORK
    label = "Mastodon archive"
    expects = (
        "your Mastodon archive (“Import and export” → “Request your archive”): the zip, "
        "or likes.json from it"
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def matches(self, names: list[str]) -> bool:
        return _root(names) is not None

    def sniff(self, head: bytes) -> bool:
        return b'"OrderedCollection"' in head and b'"likes.json"' in head

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(NETWORK)
        with open_upload(path, self.limits) as upload:
            name = _root(upload.names) if upload.is_zip else upload.names[0]
            if name is None:
                raise ImportRefused(f"the zip holds no likes.json: expected {self.expects}")
            meter = Meter(progress, upload.size(name))
            body = upload.read_text(name)
            if top_level_kind(body) != "{" or '"OrderedCollection"' not in body[:4096]:
                raise ImportRefused(
                    f"{name} is not an OrderedCollection: expected the likes.json of a "
                    "Mastodon archive"
                )
            for element, at in iter_keyed_array(body, ("orderedItems",), name):
                like = _like(element)
                if like is None:
                    result.skipped += 1
                else:
                    result.likes.append(like)
                meter.advance_to(at)
        meter.finish()
        if result.likes:
            result.notes.append(
                "Mastodon archives give no time for favourites: those already there at the "
                "first import are taken as older ones, and only those new in a later import "
                "count; the author of each post is looked up on its server"
            )
        return result


def _like(item: Any) -> ImportedLike | None:
    uri = https_url(item)
    if uri is None:
        return None
    return ImportedLike(NETWORK, item_id=uri, item_url=uri, creator=None)
