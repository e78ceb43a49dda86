"""Profile field links read as Mastodon reads them for rel=me verification."""

from __future__ import annotations

import pytest

from activitypub.profile_fields import field_link, profile_links
from activitypub.vocab import parse_actor
from tests.support.payloads import load_json

MASTODON_FIELD = (
    '<a href="https://likewise.example/@cat" target="_blank" rel="nofollow noopener me" '
    'translate="no"><span class="invisible">https://</span><span class="">likewise.example/@cat'
    '</span><span class="invisible"></span></a>'
)


def test_a_captured_mastodon_actor_claims_its_website() -> None:
    actor = parse_actor(load_json("ap_mastodon_actor.json"))
    assert profile_links(actor) == ("https://bob.example",)


@pytest.mark.parametrize(
    "value",
    [
        MASTODON_FIELD,
        f"  {MASTODON_FIELD}\n",
        '<a href="https://likewise.example/@cat">https://likewise.example/@cat</a>',
        '<a href="https://likewise.example/@cat" rel="me">https://likewise.example/@cat</a>',
    ],
)
def test_a_field_that_is_just_its_link_claims_it(value: str) -> None:
    assert field_link(value) == "https://likewise.example/@cat"


def test_entities_are_read_as_characters() -> None:
    value = '<a href="https://x.example/?a=1&amp;b=2">https://x.example/?a=1&amp;b=2</a>'
    assert field_link(value) == "https://x.example/?a=1&b=2"


@pytest.mark.parametrize(
    "value",
    [
        # a mention links to the profile but claims nothing
        '<span class="h-card"><a href="https://likewise.example/@cat" class="u-url mention">'
        "@<span>cat</span></a></span>",
        '<a href="https://likewise.example/@cat">my page</a>',
        f"see {MASTODON_FIELD}",
        f"{MASTODON_FIELD} and more",
        f"{MASTODON_FIELD}<br>",
        "https://likewise.example/@cat",  # plain text: Mastodon verifies only a remote link
        '<p><a href="https://likewise.example/@cat">https://likewise.example/@cat</a></p>',
        '<a href="javascript:alert(1)">javascript:alert(1)</a>',
        "<a>https://likewise.example/@cat</a>",
        "",
    ],
)
def test_anything_else_claims_nothing(value: str) -> None:
    assert field_link(value) is None
