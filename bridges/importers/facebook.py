"""Facebook's "Download your information" (JSON): reactions on posts, and pages liked.

Shapes read (REFERENCE.md "Bridged networks"; checked against public readers of the same
files: NorseKode/Waultar-App `documents/parser/content_examples.md` for the `data`/`title`
entries and the latin-1 mojibake, and `page_likes_v2` readers of `pages_you've_liked.json`):
- `your_facebook_activity/comments_and_reactions/likes_and_reactions_N.json` (N = 1, 2, …)
  and the older `likes_and_reactions/posts_and_comments.json` (`{"reactions_v2": […]}`):
  `[{"timestamp": <unix>, "title": "Sam Rivera likes Alex Morgan's post.", "data":
  [{"reaction": {"reaction": "LIKE", "actor": "Sam Rivera"}}]}]`. No post address: the item
  is named by time and title (`item_url` is a `urn:facebook-export:` name, stable across
  re-imports), the creator by the name in the title where it clearly names one.
- The newer un-numbered `likes_and_reactions.json`: `[{"timestamp", "fbid", "label_values":
  [{"label": "Reaction"}, {"label": "URL"}, {"label": "Name"}]}]`: the post's URL is there.
- `pages_you've_liked.json` (`your_facebook_activity/pages/`, older `pages/`):
  `{"page_likes_v2": [{"name", "timestamp", "url"}]}`: the item is the page, its creator
  the page itself.
Meta writes strings as latin-1-read UTF-8 ("CafÃ©"), undone here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, fix_mojibake, open_upload
from bridges.importers.base import ImportedLike, ImportResult, Progress
from bridges.importers.fields import Meter, https_url, text, unix_time
from bridges.importers.jsonstream import iter_array, iter_keyed_array, top_level_kind

NETWORK = "facebook"
_HOSTS = ("facebook.com", "fb.com", "fb.watch")
_REACTIONS = re.compile(r"(?:^|/)likes_and_reactions(?:_\d+)?\.json$")
_OLD_REACTIONS = re.compile(r"(?:^|/)likes_and_reactions/posts_and_comments\.json$")
_PAGES = re.compile(r"(?:^|/)pages_you(?:'|_)ve_liked\.json$")
_HTML = re.compile(r"(?:^|/)(?:likes_and_reactions(?:_\d+)?|pages_you(?:'|_)ve_liked)\.html$")
_KINDS = "post|photo|video|comment|status|link|album|reel|story|note|live video|event"
_OWNED = re.compile(
    rf"^(?:likes|liked|reacted to) (?P<owner>[^'\u2019]{{1,100}})['\u2019]s (?:{_KINDS})\.?$"
)


def _wanted(name: str) -> bool:
    normal = name.replace("\\", "/")
    return bool(_REACTIONS.search(normal) or _OLD_REACTIONS.search(normal) or _PAGES.search(normal))


class FacebookImporter:
    network = NETWORK
    label = "Facebook data download (JSON)"
    expects = (
        "Facebook's “Download your information” in JSON format: the zip, or "
        "likes_and_reactions_1.json / pages_you've_liked.json from it"
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def matches(self, names: list[str]) -> bool:
        return any(_wanted(n) or _HTML.search(n.replace("\\", "/")) for n in names)

    def sniff(self, head: bytes) -> bool:
        return (
            b'"page_likes_v2"' in head
            or b'"reactions_v2"' in head
            or (b'"reaction"' in head and b'"actor"' in head)
            or (b'"label_values"' in head and b'"Reaction"' in head)
        )

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(NETWORK)
        with open_upload(path, self.limits) as upload:
            names = [n for n in upload.names if _wanted(n)] if upload.is_zip else upload.names
            if upload.is_zip and not names:
                raise ImportRefused(
                    "this is Facebook's HTML download; request it again in JSON format "
                    "(Format: JSON in “Download your information”)"
                )
            meter = Meter(progress, sum(upload.size(name) for name in names))
            base = 0
            for name in sorted(names):
                _read_member(upload.read_text(name), name, result, meter, base)
                base += upload.size(name)
        meter.finish()
        return result


def _read_member(body: str, name: str, result: ImportResult, meter: Meter, base: int) -> None:
    kind = top_level_kind(body)
    if kind == "[":
        elements = iter_array(body, 0, name)
    elif kind == "{":
        elements = iter_keyed_array(body, ("page_likes_v2", "reactions_v2"), name)
    elif body.lstrip()[:1] == "<":
        raise ImportRefused(f"{name} is an HTML page; request Facebook's download as JSON")
    else:
        raise ImportRefused(f"{name} is not JSON; expected Facebook's likes_and_reactions")
    for element, at in elements:
        like = _like(element)
        if like is None:
            result.skipped += 1
        else:
            result.likes.append(like)
        meter.advance_to(base + at)


def _like(entry: Any) -> ImportedLike | None:
    if not isinstance(entry, dict):
        return None
    if "url" in entry and "name" in entry:
        return _page(entry)
    if isinstance(entry.get("label_values"), list):
        return _labelled(entry)
    return _reaction(entry)


def _page(entry: dict[str, Any]) -> ImportedLike | None:
    url = https_url(entry.get("url"), _HOSTS)
    if url is None:
        return None
    name = fix_mojibake(text(entry.get("name")))
    return ImportedLike(
        network=NETWORK,
        item_id=url,
        item_url=url,
        creator=Creator(NETWORK, url, name, url),
        title=name,
        liked_at=unix_time(entry.get("timestamp")),
    )


def _labelled(entry: dict[str, Any]) -> ImportedLike | None:
    labels = {v.get("label"): v.get("value") for v in entry["label_values"] if isinstance(v, dict)}
    url = https_url(labels.get("URL"), _HOSTS)
    if url is None:
        return None
    name = fix_mojibake(text(labels.get("Name")))
    return ImportedLike(
        network=NETWORK,
        item_id=str(entry.get("fbid") or url)[:200],
        item_url=url,
        creator=_named(name),
        title=name,
        liked_at=unix_time(entry.get("timestamp")),
    )


def _reaction(entry: dict[str, Any]) -> ImportedLike | None:
    title = fix_mojibake(text(entry.get("title")))
    stamp = unix_time(entry.get("timestamp"))
    actor = _actor(entry.get("data"))
    if stamp is None or not title or actor is None:
        return None
    digest = hashlib.sha256(f"{int(stamp.timestamp())}\n{title}".encode()).hexdigest()[:24]
    item_id = f"reaction:{int(stamp.timestamp())}:{digest}"
    return ImportedLike(
        network=NETWORK,
        item_id=item_id,
        item_url=f"urn:facebook-export:{item_id}",
        creator=_named(owner_in_title(title, actor)),
        title=title,
        liked_at=stamp,
    )


def _actor(data: Any) -> str | None:
    """The donor's own name from `data[0].reaction.actor` (None: not a reaction entry)."""
    if not isinstance(data, list):
        return None
    for item in data:
        reaction = item.get("reaction") if isinstance(item, dict) else None
        if isinstance(reaction, dict) and isinstance(reaction.get("actor"), str):
            return fix_mojibake(reaction["actor"])
    return None


def owner_in_title(title: str, actor: str) -> str:
    """Whose post "<actor> likes <owner>'s post." names ("" where the title names no one
    clearly: "likes a post", "likes his own photo", a group, a nested possessive)."""
    if not actor or not title.startswith(actor + " "):
        return ""
    match = _OWNED.match(title[len(actor) + 1 :])
    if match is None:
        return ""
    owner = match.group("owner").strip()
    if owner.lower() in ("his own", "her own", "their own", "your own", "a", "an"):
        return ""
    return owner


def _named(name: str) -> Creator | None:
    """A creator known only by display name: `external_id` is `name:<name>` (names are not
    unique: such an identity is only ever paid after a claim proves it)."""
    if not name:
        return None
    return Creator(NETWORK, f"name:{name}", name, "")
