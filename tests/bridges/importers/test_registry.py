from __future__ import annotations

from pathlib import Path

import pytest

from bridges.errors import ImportRefused
from bridges.importers.registry import IMPORTERS, accepted, detect, importer, parse
from tests.bridges.importers.conftest import MakeZip, sample

LONE = {
    "instagram/liked_posts.json": "instagram",
    "instagram/liked_posts_label_values.json": "instagram",
    "facebook/likes_and_reactions_1.json": "facebook",
    "facebook/pages_youve_liked.json": "facebook",
    "facebook/likes_and_reactions_labels.json": "facebook",
    "x/like.js": "x",
    "youtube/Liked videos.csv": "youtube",
    "youtube/likes_old.csv": "youtube",
    "youtube/likes.json": "youtube",
    "mastodon/likes.json": "mastodon",
    "bluesky/repo.car": "bluesky",
}


def test_the_registry_is_an_explicit_dict_of_every_network() -> None:
    assert sorted(IMPORTERS) == ["bluesky", "facebook", "instagram", "mastodon", "x", "youtube"]
    assert all(name == imp.network for name, imp in IMPORTERS.items())


@pytest.mark.parametrize(("relative", "network"), LONE.items())
def test_a_lone_file_is_recognised_by_content_under_any_name(
    tmp_path: Path, relative: str, network: str
) -> None:
    # uploads are stored under a temporary name: content, not the name, decides
    path = tmp_path / "upload-3f2a.tmp"
    path.write_bytes(sample(relative).read_bytes())
    assert detect(path).network == network
    assert parse(path).network == network


def test_another_networks_export_is_refused_naming_both(make_zip: MakeZip) -> None:
    path = make_zip({"data/like.js": sample("x/like.js")})
    with pytest.raises(ImportRefused, match=r"is X \(Twitter\) archive, not Instagram"):
        parse(path, "instagram")
    with pytest.raises(ImportRefused, match=r"Bluesky.*not Facebook"):
        parse(sample("bluesky/repo.car"), "facebook")


def test_an_unknown_file_is_refused_listing_what_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ImportRefused) as refused:
        parse(path)
    message = str(refused.value)
    for imp in IMPORTERS.values():
        assert imp.label in message
    assert accepted() in message
    assert len(message) < 480  # the server shows messages up to 480 characters


def test_an_unknown_zip_is_refused(make_zip: MakeZip) -> None:
    with pytest.raises(ImportRefused, match="not an export we can read"):
        parse(make_zip({"photos/1.jpg": b"\xff\xd8"}))


def test_choosing_a_network_with_an_unknown_file_names_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(b"\x00\x01\x02")
    with pytest.raises(ImportRefused, match="not the expected Instagram data download"):
        parse(path, "instagram")


def test_an_unknown_network_name_is_refused() -> None:
    with pytest.raises(ImportRefused, match="no importer for 'myspace'"):
        importer("myspace")


def test_a_zip_mixing_two_networks_is_refused(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "data/like.js": sample("x/like.js"),
            "likes/liked_posts.json": sample("instagram/liked_posts.json"),
        }
    )
    with pytest.raises(ImportRefused, match="several networks"):
        detect(path)


def test_a_50_mb_export_parses_in_seconds(tmp_path: Path) -> None:
    # Given a 50 MB Instagram liked_posts.json, zipped
    path = tmp_path / "liked_posts.json"
    entry = (
        '{{"title": "creator{n}", "string_list_data": [{{"href": '
        '"https://www.instagram.com/p/Post{n:08d}/", "value": "{pad}", "timestamp": 1733011200}}]}}'
    )
    pad = "x" * 300
    with path.open("w") as out:
        out.write('{"likes_media_likes": [')
        count = 0
        while out.tell() < 50_000_000:
            out.write(("," if count else "") + entry.format(n=count, pad=pad))
            count += 1
        out.write("]}")
    # When
    result = parse(path, "instagram")
    # Then every entry is a like
    assert len(result.likes) == count
    assert result.likes[-1].item_id == f"Post{count - 1:08d}"
