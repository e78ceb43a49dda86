from __future__ import annotations

from pathlib import Path

import pytest

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.registry import parse
from tests.bridges.importers.conftest import MakeZip, sample


def test_like_js_and_its_parts(make_zip: MakeZip) -> None:
    # Given an archive whose likes are split in two files
    path = make_zip(
        {
            "data/like.js": sample("x/like.js"),
            "data/like-part1.js": sample("x/like-part1.js"),
            "data/tweets.js": sample("x/tweets.js"),
        }
    )
    # When
    result = parse(path, "x")
    # Then five likes; a non-numeric id is skipped
    assert [like.item_id[-1] for like in result.likes] == ["1", "2", "3", "4", "5"]
    assert result.skipped == 1
    assert all(like.liked_at is None for like in result.likes)
    assert all(
        like.item_url == f"https://x.com/i/web/status/{like.item_id}" for like in result.likes
    )
    creators = [like.creator for like in result.likes]
    # an i/web link names no one; a handle link does (twitter.com or x.com); a link to
    # another tweet than the one liked is not trusted
    assert creators == [
        None,
        Creator("x", "jack_doe", "@Jack_Doe", "https://x.com/Jack_Doe"),
        Creator("x", "someone", "@someone", "https://x.com/someone"),
        None,
        None,
    ]
    assert result.likes[0].title == "hello world"
    assert "no time" in result.notes[0]


def test_an_empty_like_js() -> None:
    result = parse(sample("x/like_empty.js"))
    assert result.likes == [] and result.notes == []


def test_a_file_without_the_assignment_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({"data/like.js": b'[{"like": {"tweetId": "1"}}]'})
    with pytest.raises(ImportRefused, match=r"window\.YTD\.like\.part0"):
        parse(path)


def test_a_truncated_like_js_is_refused(tmp_path: Path) -> None:
    body = sample("x/like.js").read_bytes()
    path = tmp_path / "like.js"
    path.write_bytes(body[:-40])
    with pytest.raises(ImportRefused, match="JSON"):
        parse(path)


def test_the_archives_other_files_alone_are_not_likes() -> None:
    with pytest.raises(ImportRefused, match="not an export we can read"):
        parse(sample("x/tweets.js"))
