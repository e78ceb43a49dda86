"""A status's text as HTML, as Mastodon writes it: paragraphs, line breaks, links, and
`@user` / `@user@host` mentions and `#tags` linked; and the `Mention` and `Hashtag` tags
of a remote note read back."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.models import Actor

# A mention starts a word: `@name` or `@name@host` (the host may carry a port).
MENTION = r"(?<![\w/@.])@(?P<user>\w+(?:[.-]\w+)*)(?:@(?P<host>[\w-]+(?:\.[\w-]+)*(?::\d+)?))?"
# A hashtag has a letter in it (`#1` is no tag), as Mastodon reads them.
HASHTAG = r"(?<![\w&#/])#(?P<tag>\w*[^\W\d_]\w*)"
URL = r"(?P<url>https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'])"
TOKENS = re.compile(f"{URL}|{MENTION}|{HASHTAG}")
MAX_TAG = 100


@dataclass(frozen=True)
class Linked:
    """The HTML of a status, the actors it mentions (in order, once) and its tags' names."""

    html: str
    mentions: list[Actor]
    tags: list[str]


def handle_key(user: str, host: str | None, local_domain: str) -> str:
    """How a mention is looked up: `user@host` lower-cased, the local domain when absent."""
    return f"{user}@{host or local_domain}".lower()


def handles(text: str, local_domain: str) -> list[str]:
    """The mentions of a status's text, as `handle_key`s, each once."""
    found = (
        handle_key(match["user"], match["host"], local_domain)
        for match in TOKENS.finditer(text)
        if match["user"]
    )
    return list(dict.fromkeys(found))


def _mention_html(actor: Actor) -> str:
    href = html.escape(actor.url or actor.uri)
    name = html.escape(actor.username)
    return (
        f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
        f"@<span>{name}</span></a></span>"
    )


def _tag_html(base_url: str, tag: str) -> str:
    href = html.escape(f"{base_url}/tags/{tag.lower()}")
    return (
        f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
    )


def _url_html(url: str) -> str:
    href = html.escape(url)
    return f'<a href="{href}" target="_blank" rel="nofollow noopener noreferrer">{href}</a>'


class _Linker:
    def __init__(self, actors: Mapping[str, Actor], local_domain: str, base_url: str) -> None:
        self.actors, self.local_domain, self.base_url = actors, local_domain, base_url
        self.mentions: dict[int, Actor] = {}
        self.tags: dict[str, None] = {}

    def token(self, match: re.Match[str]) -> str:
        if match["url"]:
            return _url_html(match["url"])
        if match["tag"]:
            if len(match["tag"]) > MAX_TAG:
                return html.escape(match[0])
            self.tags[match["tag"].lower()] = None
            return _tag_html(self.base_url, match["tag"])
        actor = self.actors.get(handle_key(match["user"], match["host"], self.local_domain))
        if actor is None:
            return html.escape(match[0])
        self.mentions[actor.id or 0] = actor
        return _mention_html(actor)

    def line(self, text: str) -> str:
        out, last = [], 0
        for match in TOKENS.finditer(text):
            out.append(html.escape(text[last : match.start()]))
            out.append(self.token(match))
            last = match.end()
        out.append(html.escape(text[last:]))
        return "".join(out)


def link_text(text: str, actors: Mapping[str, Actor], local_domain: str, base_url: str) -> Linked:
    """`actors`: the mentioned actors found, by `handle_key`; a mention of anyone else
    stays plain text."""
    linker = _Linker(actors, local_domain, base_url)
    paragraphs = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n")]
    body = "".join(
        "<p>" + "<br>".join(linker.line(line) for line in part.split("\n")) + "</p>"
        for part in paragraphs
        if part
    )
    return Linked(body, list(linker.mentions.values()), list(linker.tags))


@dataclass(frozen=True)
class NoteTags:
    """A remote note's `tag` array: the mentioned actors' ids and the hashtags' names."""

    mentions: list[str]
    hashtags: list[str]


def read_tags(tags: object) -> NoteTags:
    items: Sequence[object] = tags if isinstance(tags, list) else [tags] if tags else []
    mentions: dict[str, None] = {}
    hashtags: dict[str, None] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        kind, href, name = item.get("type"), item.get("href"), item.get("name")
        if kind == "Mention" and isinstance(href, str) and href:
            mentions[href] = None
        elif kind == "Hashtag" and isinstance(name, str):
            tag = name.removeprefix("#").lower()
            if tag and len(tag) <= MAX_TAG and re.fullmatch(r"\w+", tag):
                hashtags[tag] = None
    return NoteTags(list(mentions)[:50], list(hashtags)[:50])
