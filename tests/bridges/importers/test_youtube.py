from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.registry import parse
from tests.bridges.importers.conftest import MakeZip, sample

PLAYLISTS = "Takeout/YouTube and YouTube Music/playlists"


def test_liked_videos_csv_in_a_takeout(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            f"{PLAYLISTS}/Liked videos.csv": sample("youtube/Liked videos.csv"),
            f"{PLAYLISTS}/Watch later.csv": b"Video ID,Playlist Video Creation Timestamp\n",
            "Takeout/archive_browser.html": b"<html></html>",
        }
    )
    result = parse(path, "youtube")
    assert [like.item_id for like in result.likes] == ["dQw4w9WgXcQ", "9bZkp7q19f0"]
    assert result.skipped == 1
    first = result.likes[0]
    assert first.item_url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert first.creator is None
    assert first.liked_at == datetime(2024, 12, 1, 10, tzinfo=UTC)


def test_the_older_csv_with_a_playlist_block_first() -> None:
    (like,) = parse(sample("youtube/likes_old.csv")).likes
    assert like.item_id == "dQw4w9WgXcQ"
    assert like.liked_at == datetime(2019, 3, 1, 12, 34, 56, tzinfo=UTC)


def test_the_json_variant_with_and_without_the_channel(make_zip: MakeZip) -> None:
    result = parse(make_zip({f"{PLAYLISTS}/likes.json": sample("youtube/likes.json")}))
    first, second = result.likes
    assert first.creator == Creator(
        "youtube",
        "UCuAXFkgsw1L7xaCfnd5JJOw",
        "Rick Astley",
        "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
    )
    assert first.title == "Never Gonna Give You Up"
    assert second.creator is None and second.item_id == "9bZkp7q19f0"


def test_an_empty_csv() -> None:
    assert parse(sample("youtube/Liked videos_empty.csv")).likes == []


def test_a_csv_without_a_video_id_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Liked videos.csv"
    path.write_text("Title,When\nsomething,2024-01-01\n")
    with pytest.raises(ImportRefused, match="Video ID"):
        parse(path, "youtube")


def test_a_csv_with_a_huge_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Liked videos.csv"
    path.write_text('Video ID,Playlist Video Creation Timestamp\n"' + "a" * 200_000 + '",x\n')
    with pytest.raises(ImportRefused, match="not a readable CSV"):
        parse(path)
