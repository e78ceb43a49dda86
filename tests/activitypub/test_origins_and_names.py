"""Who a URL belongs to (its origin), whose a key is, and which remote usernames and
remote interaction addresses are accepted."""

from __future__ import annotations

import pytest

from activitypub.errors import InvalidDocument
from activitypub.keys import key_belongs_to
from activitypub.origin import origin_of, same_origin
from activitypub.webfinger import is_valid_username, subscribe_url

ACTOR = "https://good.example/users/bob"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Good.Example/users/bob", ("https", "good.example", 443)),
        ("http://good.example:80/x", ("http", "good.example", 80)),
        ("https://good.example:8443/x", ("https", "good.example", 8443)),
        ("https://bob@good.example/", None),
        ("javascript:alert(1)", None),
        ("//good.example/x", None),
        ("https://good.example:99999/", None),
        ("https:///x", None),
    ],
)
def test_origin_of(url: str, origin: tuple[str, str, int] | None) -> None:
    assert origin_of(url) == origin


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin("https://good.example/a#k", "https://GOOD.example:443/b")
    assert not same_origin("https://good.example/a", "http://good.example/a")
    assert not same_origin("https://good.example/a", "https://good.example:8443/a")
    assert not same_origin("https://good.example.evil.example/a", "https://good.example/a")
    assert not same_origin("not a url", "not a url")


@pytest.mark.parametrize(
    ("key_id", "owner", "belongs"),
    [
        (f"{ACTOR}#main-key", ACTOR, True),
        (f"{ACTOR}/main-key", ACTOR, True),
        ("https://evil.example/users/bob#main-key", ACTOR, False),
        (f"{ACTOR}#main-key", "https://good.example/users/alice", False),
    ],
)
def test_a_key_belongs_to_an_actor_on_its_origin_that_it_names(
    key_id: str, owner: str, belongs: bool
) -> None:
    assert key_belongs_to(ACTOR, key_id, owner) is belongs


@pytest.mark.parametrize("name", ["bob", "Bob_2", "b", "_", "bob.smith", "bob-smith", "a.b-c_d"])
def test_usernames_mastodon_accepts(name: str) -> None:
    assert is_valid_username(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "bob<script>",
        "bob smith",
        "bob@host",
        ".bob",
        "bob.",
        "-bob",
        "b\u00f6b",
        "\u017f",
        "\u212a",
        "bob\n",
        "b" * 256,
    ],
)
def test_usernames_mastodon_refuses(name: str) -> None:
    assert not is_valid_username(name)


def test_a_subscribe_template_is_filled_on_the_handles_host() -> None:
    url = subscribe_url(
        "https://beta.example/authorize?uri={uri}", "https://a.example/n/1", "beta.example"
    )
    assert url == "https://beta.example/authorize?uri=https%3A%2F%2Fa.example%2Fn%2F1"


@pytest.mark.parametrize(
    "template",
    [
        "javascript:alert(1)//{uri}",
        "//beta.example/{uri}",
        "https://other.example/{uri}",
        "https://beta.example.other.example/{uri}",
        "https://beta.example@other.example/{uri}",
        "https://other.example\\@beta.example/{uri}",
        "https://beta.example:8443/{uri}",
        "https://beta.example/ {uri}",
        "https://beta.example/authorize",
    ],
)
def test_a_subscribe_template_elsewhere_is_refused(template: str) -> None:
    with pytest.raises(InvalidDocument):
        subscribe_url(template, "https://a.example/n/1", "beta.example")
