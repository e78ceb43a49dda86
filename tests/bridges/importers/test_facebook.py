from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.facebook import owner_in_title
from bridges.importers.registry import parse
from tests.bridges.importers.conftest import MakeZip, sample

FOLDER = "your_facebook_activity/comments_and_reactions"


def test_reactions_across_numbered_files_and_pages_liked(make_zip: MakeZip) -> None:
    # Given a download with two reaction files and the pages file
    path = make_zip(
        {
            f"{FOLDER}/likes_and_reactions_1.json": sample("facebook/likes_and_reactions_1.json"),
            f"{FOLDER}/likes_and_reactions_2.json": sample("facebook/likes_and_reactions_2.json"),
            f"{FOLDER}/comments.json": b'{"comments_v2": []}',
            "your_facebook_activity/pages/pages_you've_liked.json": sample(
                "facebook/pages_youve_liked.json"
            ),
        }
    )
    # When
    result = parse(path, "facebook")
    # Then 6 + 1 reactions and 2 pages; the entry without a reaction is skipped
    assert len(result.likes) == 9
    assert result.skipped == 1
    first = result.likes[0]
    # the mojibake is undone in the title and in the creator's name
    assert first.title == "Sam Rivera likes Zo\u00eb Andr\u00e9's post."
    assert first.creator == Creator(
        "facebook", "name:Zo\u00eb Andr\u00e9", "Zo\u00eb Andr\u00e9", ""
    )
    assert first.liked_at == datetime(2024, 12, 1, tzinfo=UTC)
    assert first.item_url.startswith("urn:facebook-export:reaction:1733011200:")
    pages = [like for like in result.likes if like.item_url.startswith("https://")]
    assert [p.title for p in pages] == ["Caf\u00e9 M\u00fcller", "Trail Runners"]
    assert pages[0].creator == Creator(
        "facebook",
        "https://www.facebook.com/cafemuller",
        "Caf\u00e9 M\u00fcller",
        "https://www.facebook.com/cafemuller",
    )


def test_the_same_export_twice_gives_the_same_item_ids(make_zip: MakeZip) -> None:
    member = {f"{FOLDER}/likes_and_reactions_1.json": sample("facebook/likes_and_reactions_1.json")}
    once = [like.item_id for like in parse(make_zip(member)).likes]
    again = [like.item_id for like in parse(make_zip(member)).likes]
    assert once == again and len(set(once)) == len(once)


def test_titles_name_a_creator_only_when_clear() -> None:
    actor = "Sam Rivera"
    assert owner_in_title("Sam Rivera likes Alex Morgan's post.", actor) == "Alex Morgan"
    assert owner_in_title("Sam Rivera reacted to Alex Morgan\u2019s photo.", actor) == "Alex Morgan"
    assert owner_in_title("Sam Rivera liked Alex Morgan's comment", actor) == "Alex Morgan"
    for unclear in (
        "Sam Rivera likes a post.",
        "Sam Rivera likes his own post.",
        "Sam Rivera likes Jo's friend's post.",
        "Sam Rivera reacted to Alex Morgan's post in Hikers.",
        "Someone Else likes Alex Morgan's post.",
        "Sam Rivera commented on Alex Morgan's post.",
    ):
        assert owner_in_title(unclear, actor) == "", unclear


def test_the_label_values_variant_carries_the_post_url() -> None:
    result = parse(sample("facebook/likes_and_reactions_labels.json"))
    (like,) = result.likes
    assert like.item_id == "100200300"
    assert like.item_url == "https://www.facebook.com/alex.morgan.example/posts/555000111"
    assert like.creator is not None and like.creator.handle == "Alex Morgan"
    assert result.skipped == 1  # the http:// address


def test_the_older_reactions_file(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "likes_and_reactions/posts_and_comments.json": sample(
                "facebook/posts_and_comments_old.json"
            )
        }
    )
    (like,) = parse(path).likes
    assert like.creator is not None and like.creator.handle == "Alex Morgan"
    assert like.liked_at == datetime(2020, 1, 1, tzinfo=UTC)


def test_an_empty_export(make_zip: MakeZip, tmp_path: Path) -> None:
    path = make_zip({f"{FOLDER}/likes_and_reactions_1.json": b"[]"})
    assert parse(path, "facebook").likes == []
    # a lone empty file is too bare to recognise, but its own name says what it is
    lone = tmp_path / "likes_and_reactions_1.json"
    lone.write_bytes(sample("facebook/likes_and_reactions_empty.json").read_bytes())
    assert parse(lone, "facebook").likes == []
    with pytest.raises(ImportRefused, match="not the expected Facebook data download"):
        parse(sample("facebook/likes_and_reactions_empty.json"), "facebook")


def test_an_html_download_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({f"{FOLDER}/likes_and_reactions_1.html": b"<html></html>"})
    with pytest.raises(ImportRefused, match=r"HTML download.*JSON format"):
        parse(path, "facebook")


def test_malformed_json_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({f"{FOLDER}/likes_and_reactions_1.json": b'[{"timestamp": 1,'})
    with pytest.raises(ImportRefused, match="not valid JSON"):
        parse(path)
