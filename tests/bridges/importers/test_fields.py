from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridges.importers.fields import https_url, iso_time, members_ending, unix_time


@pytest.mark.parametrize(
    "url",
    [
        "https://www.instagram.com/p/C1/",
        "https://mastodon.example:8443/users/a/statuses/1?x=1#y",
    ],
)
def test_https_urls_are_kept(url: str) -> None:
    assert https_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://a.example/",
        "javascript:alert(1)",
        "https://user:pass@a.example/",
        "https://a.example/ x",
        "https://a.example/\nx",
        "https://-a.example/",
        "https://" + "a" * 3000 + ".example/",
        5,
        None,
    ],
)
def test_other_addresses_are_not(url: object) -> None:
    assert https_url(url) is None


def test_hosts_limit_the_domain() -> None:
    assert https_url("https://www.instagram.com/p/x/", ("instagram.com",))
    assert https_url("https://instagram.com.evil.example/p/x/", ("instagram.com",)) is None
    assert https_url("https://evilinstagram.com/p/x/", ("instagram.com",)) is None


def test_times() -> None:
    assert unix_time(1733011200) == datetime(2024, 12, 1, tzinfo=UTC)
    assert unix_time(True) is None and unix_time(-5) is None and unix_time(10**15) is None
    assert unix_time("1733011200") is None
    assert iso_time("2024-12-01T10:00:00.000Z") == datetime(2024, 12, 1, 10, tzinfo=UTC)
    assert iso_time("2019-03-01 12:34:56 UTC") == datetime(2019, 3, 1, 12, 34, 56, tzinfo=UTC)
    assert iso_time("yesterday") is None and iso_time(5) is None


def test_members_match_at_a_folder_boundary() -> None:
    names = ["a/likes/liked_posts.json", "xlikes/liked_posts.json", "likes/liked_posts.json"]
    assert members_ending(names, "likes/liked_posts.json") == [
        "a/likes/liked_posts.json",
        "likes/liked_posts.json",
    ]
