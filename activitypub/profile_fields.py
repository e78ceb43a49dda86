"""Links in Mastodon profile fields, read as Mastodon reads them to verify them (rel=me).

Mastodon verifies a remote account's field only when its value is nothing but one link
whose text is its own address (`Account::Field#extract_url_from_html`): the way Mastodon
writes a URL typed into a field. A mention, a link with other text, or a field with more
than the link is no claim to that address.
"""

from __future__ import annotations

from html.parser import HTMLParser

from activitypub.vocab import ActorDocument

VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _TopLevel(HTMLParser):
    """The value's top-level nodes; for a first node that is a link, its href and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self.href: str | None = None
        self.text: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            self.nodes.append(tag)
            if tag == "a" and len(self.nodes) == 1:
                self.href = dict(attrs).get("href")
        if tag not in VOID_ELEMENTS:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            self.nodes.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID_ELEMENTS and self.depth > 0:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth == 0:
            self.nodes.append("#text")
        elif self.nodes == ["a"]:
            self.text.append(data)


def field_link(value: str) -> str | None:
    """The address a profile field's HTML value claims, or None when it claims none."""
    parser = _TopLevel()
    parser.feed(value.strip())
    parser.close()
    if parser.nodes != ["a"] or not parser.href:
        return None
    if parser.href != "".join(parser.text):
        return None
    return parser.href if parser.href.startswith(("https://", "http://")) else None


def profile_links(actor: ActorDocument) -> tuple[str, ...]:
    """Every address the actor's profile fields claim, in field order."""
    found = (field_link(item.value) for item in actor.fields)
    return tuple(link for link in found if link is not None)
