from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.instagram import InstagramImporter
from bridges.importers.registry import parse
from tests.bridges.importers.conftest import MakeZip, sample

NEW = "your_instagram_activity/likes/liked_posts.json"
OLDER = "likes/liked_posts.json"


@pytest.mark.parametrize("member", [NEW, OLDER, f"instagram-donor-2024-12-06/{NEW}"])
def test_liked_posts_in_each_known_place(make_zip: MakeZip, member: str) -> None:
    # Given a download with media beside the likes
    path = make_zip({member: sample("instagram/liked_posts.json"), "media/posts/1.jpg": b"\xff"})
    # When
    result = parse(path, "instagram")
    # Then three likes; a javascript: link and another host are skipped
    assert [like.item_id for like in result.likes] == ["C1aBcDeFgHi", "C2zYxWvUtSr", "C3QwErTyUiO"]
    assert result.skipped == 2
    first = result.likes[0]
    assert first.network == "instagram"
    assert first.item_url == "https://www.instagram.com/p/C1aBcDeFgHi/"
    assert first.creator == Creator(
        "instagram", "alice.photos", "@alice.photos", "https://www.instagram.com/alice.photos/"
    )
    assert first.liked_at == datetime(2024, 12, 1, tzinfo=UTC)
    # a reel and a link with a query string both get the one canonical address
    assert result.likes[1].item_url == "https://www.instagram.com/p/C2zYxWvUtSr/"
    assert result.likes[1].creator is not None
    assert result.likes[1].creator.external_id == "bob_makes"
    assert result.likes[2].item_url == "https://www.instagram.com/p/C3QwErTyUiO/"


def test_the_bare_list_variant() -> None:
    result = parse(sample("instagram/liked_posts_bare_list.json"))
    assert [like.item_id for like in result.likes] == ["C1aBcDeFgHi", "C5DaVe12345"]


def test_the_label_values_variant_finds_url_owner_and_time() -> None:
    (like,) = parse(sample("instagram/liked_posts_label_values.json")).likes
    assert like.item_id == "C6LaBeL1234"
    assert like.creator is not None and like.creator.external_id == "frank"
    assert like.liked_at == datetime(2024, 12, 4, tzinfo=UTC)


def test_the_oldest_format_is_recognised_but_names_no_post(make_zip: MakeZip) -> None:
    result = parse(make_zip({"likes/likes.json": sample("instagram/likes_oldest.json")}))
    assert result.likes == []
    assert result.skipped == 2
    assert "oldest Instagram format" in result.notes[0]


def test_an_empty_export_gives_no_likes(make_zip: MakeZip) -> None:
    result = parse(make_zip({NEW: sample("instagram/liked_posts_empty.json")}))
    assert result.likes == [] and result.skipped == 0


def test_an_html_download_is_refused_asking_for_json(make_zip: MakeZip) -> None:
    path = make_zip({"your_instagram_activity/likes/liked_posts.html": b"<html></html>"})
    with pytest.raises(ImportRefused, match=r"HTML download.*JSON format"):
        parse(path, "instagram")
    with pytest.raises(ImportRefused, match="HTML"):
        parse(sample("instagram/liked_posts.html"))


def test_malformed_json_is_refused_not_crashed(make_zip: MakeZip) -> None:
    path = make_zip({NEW: b'{"likes_media_likes": [{"title": "a", "string_list_data": [}'})
    with pytest.raises(ImportRefused, match="not valid JSON"):
        parse(path)


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    body = sample("instagram/liked_posts.json").read_bytes()
    path = tmp_path / "liked_posts.json"
    path.write_bytes(body[: len(body) // 2])
    with pytest.raises(ImportRefused, match=r"not valid JSON|not the JSON expected"):
        parse(path)


def test_entries_of_the_wrong_shape_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "liked_posts.json"
    path.write_text(
        '{"likes_media_likes": [1, "x", null, {"title": 5}, {"string_list_data": "no"},'
        ' {"title": "ok", "string_list_data": [{"href": "https://www.instagram.com/p/AbCdE1/",'
        ' "timestamp": "not a time"}]}]}'
    )
    result = parse(path)
    assert result.skipped == 5
    (like,) = result.likes
    assert like.liked_at is None and like.item_id == "AbCdE1"


def test_progress_is_reported_to_the_end(tmp_path: Path) -> None:
    entries = ",".join(
        f'{{"title": "u{n}", "string_list_data": [{{"href": '
        f'"https://www.instagram.com/p/Code{n:06d}/", "timestamp": 1733011200}}]}}'
        for n in range(5000)
    )
    path = tmp_path / "liked_posts.json"
    path.write_text(f'{{"likes_media_likes": [{entries}]}}')
    calls: list[tuple[int, int]] = []
    result = InstagramImporter().parse(path, lambda done, total: calls.append((done, total)))
    assert len(result.likes) == 5000
    assert len(calls) >= 3
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1][0] == calls[-1][1] == path.stat().st_size
