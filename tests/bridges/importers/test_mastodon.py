from __future__ import annotations

from pathlib import Path

import pytest

from bridges.errors import ImportRefused
from bridges.importers.mastodon import MastodonImporter
from bridges.importers.registry import parse
from tests.bridges.importers.conftest import MakeZip, sample


def test_likes_json_in_an_archive(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "actor.json": sample("mastodon/actor.json"),
            "outbox.json": sample("mastodon/outbox.json"),
            "likes.json": sample("mastodon/likes.json"),
            "bookmarks.json": sample("mastodon/likes_empty.json"),
        }
    )
    result = parse(path, "mastodon")
    assert [like.item_url for like in result.likes] == [
        "https://mastodon.example/users/alice/statuses/111000000000000001",
        "https://pixelfed.example/p/bob/700000000000000001",
    ]
    assert all(like.item_id == like.item_url for like in result.likes)
    assert all(like.creator is None and like.liked_at is None for like in result.likes)
    assert result.skipped == 2  # an http:// URI and an object instead of a URI
    assert "looked up on its server" in result.notes[0]


def test_a_lone_likes_json_and_an_empty_one() -> None:
    assert len(parse(sample("mastodon/likes.json")).likes) == 2
    assert parse(sample("mastodon/likes_empty.json"), "mastodon").likes == []


def test_a_likes_json_that_is_not_a_collection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "likes.json"
    path.write_text('{"id": "likes.json", "orderedItems": []}')
    with pytest.raises(ImportRefused, match="upload your Mastodon archive"):
        parse(path, "mastodon")
    # the importer itself, called directly, says what is wrong with the file
    with pytest.raises(ImportRefused, match="not an OrderedCollection"):
        MastodonImporter().parse(path)
