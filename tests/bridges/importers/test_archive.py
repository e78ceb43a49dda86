"""Hostile uploads: bombs, truncation, unsafe names, sizes, encodings."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from bridges.errors import BridgeError, ImportRefused
from bridges.importers.archive import Limits, decode_text, fix_mojibake, open_upload, unsafe_name
from bridges.importers.instagram import InstagramImporter
from bridges.importers.registry import detect, parse
from tests.bridges.importers.conftest import MakeZip, sample

MEMBER = "your_instagram_activity/likes/liked_posts.json"


def test_import_refused_is_a_bridge_error() -> None:
    assert issubclass(ImportRefused, BridgeError)


def _bomb(path: Path, mib: int) -> Path:
    """A member of `mib` MiB of spaces: it deflates about a thousand times."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(MEMBER, "w", force_zip64=True) as member:
            member.write(b'{"likes_media_likes": [')
            chunk = b" " * (1024 * 1024)
            for _ in range(mib):
                member.write(chunk)
            member.write(b"]}")
    return path


def test_a_zip_bomb_is_refused_while_streaming_by_its_ratio(tmp_path: Path) -> None:
    # Given 200 MiB (under the member limit) in well under a MiB
    path = _bomb(tmp_path / "bomb.zip", 200)
    assert path.stat().st_size < 1024 * 1024
    # When it is parsed, Then the ratio stops it after the first MiBs
    with pytest.raises(ImportRefused, match="zip bomb"):
        parse(path)


def test_a_member_declared_larger_than_the_limit_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    path = _bomb(tmp_path / "bomb.zip", 300)
    with pytest.raises(ImportRefused, match="larger than 256 MiB"):
        parse(path)


def test_a_member_whose_header_lies_about_its_size_is_stopped_at_the_real_limit(
    tmp_path: Path, make_zip: MakeZip
) -> None:
    body = b'{"likes_media_likes": [' + b" " * (3 * 1024 * 1024) + b"]}"
    path = make_zip({MEMBER: body})
    _lie_about_sizes(path, MEMBER, 100)
    limits = Limits(member_bytes=2 * 1024 * 1024, ratio=10_000)
    with pytest.raises(ImportRefused, match=r"larger than 2 MiB|damaged"):
        InstagramImporter(limits).parse(path)


def _lie_about_sizes(path: Path, name: str, size: int) -> None:
    """Rewrite the central directory's uncompressed size of `name` (the local header too)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    real = info.file_size.to_bytes(4, "little")
    fake = size.to_bytes(4, "little")
    at = data.find(real)
    while at >= 0:
        data[at : at + 4] = fake
        at = data.find(real, at + 4)
    path.write_bytes(bytes(data))


def test_total_uncompressed_size_across_members_is_bounded(make_zip: MakeZip) -> None:
    one = b"[" + b" " * (600 * 1024) + b"]"
    path = make_zip(
        {
            "your_facebook_activity/comments_and_reactions/likes_and_reactions_1.json": one,
            "your_facebook_activity/comments_and_reactions/likes_and_reactions_2.json": one,
        }
    )
    limits = Limits(total_bytes=1024 * 1024, ratio=100_000)
    with open_upload(path, limits) as upload:
        upload.read(upload.names[0])
        with pytest.raises(ImportRefused, match="more than 1 MiB"):
            upload.read(upload.names[1])


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "C:/Windows/x.json", "likes/..\\..\\x.json", "a/../../b"],
)
def test_unsafe_member_names_refuse_the_whole_zip(make_zip: MakeZip, name: str) -> None:
    path = make_zip({MEMBER: sample("instagram/liked_posts.json"), name: b"x"})
    with pytest.raises(ImportRefused, match=r"absolute path|climbs out"):
        detect(path)


def test_safe_names_pass() -> None:
    assert unsafe_name("your_instagram_activity/likes/liked_posts.json") == ""
    assert unsafe_name("a/./b..c/file.json") == ""


def test_a_symlink_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(sample("instagram/liked_posts.json"), MEMBER)
        link = zipfile.ZipInfo("likes/liked_posts.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ImportRefused, match="symbolic link"):
        parse(path)


def test_too_many_members_are_refused_before_the_directory_is_read(make_zip: MakeZip) -> None:
    path = make_zip({f"media/{n}.jpg": b"" for n in range(30)})
    with pytest.raises(ImportRefused, match="more than 20 files"):
        detect(path, Limits(members=20))


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_truncated_zip_is_refused_with_advice(make_zip: MakeZip, keep: float) -> None:
    path = make_zip({MEMBER: sample("instagram/liked_posts.json").read_bytes() * 50})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImportRefused, match="damaged or incomplete"):
        parse(path)


def test_a_zip_whose_member_is_corrupted_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({MEMBER: sample("instagram/liked_posts.json").read_bytes() * 50})
    data = bytearray(path.read_bytes())
    data[200:260] = b"\x00" * 60
    path.write_bytes(bytes(data))
    with pytest.raises(ImportRefused, match="damaged or incomplete"):
        parse(path)


def test_a_lone_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "liked_posts.json"
    path.write_bytes(b'{"likes_media_likes": [' + b" " * 2048 + b"]}")
    with pytest.raises(ImportRefused, match="larger than"):
        InstagramImporter(Limits(member_bytes=1024)).parse(path)


def test_a_directory_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match="not a file"):
        parse(tmp_path)
    with pytest.raises(ImportRefused, match="cannot be read"):
        parse(tmp_path / "missing.zip")


def test_utf8_with_a_bom_and_utf16_are_read() -> None:
    assert decode_text(b"\xef\xbb\xbf[1]", "f") == "[1]"
    assert decode_text("[\u00e9]".encode("utf-16"), "f") == "[\u00e9]"


def test_text_in_another_encoding_is_refused_naming_utf8() -> None:
    with pytest.raises(ImportRefused, match="not UTF-8"):
        decode_text("Zo\u00eb".encode("latin-1"), "likes.json")


def test_a_latin1_facebook_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match="not UTF-8"):
        parse(sample("facebook/likes_and_reactions_latin1.json"))


def test_metas_mojibake_is_undone_and_real_text_is_kept() -> None:
    assert fix_mojibake("Caf\u00c3\u00a9 M\u00c3\u00bcller") == "Caf\u00e9 M\u00fcller"
    assert fix_mojibake("\u00e2\u0080\u0099") == "\u2019"
    assert fix_mojibake("Caf\u00e9") == "Caf\u00e9"  # already right: not a UTF-8 sequence
    assert fix_mojibake("\u65e5\u672c") == "\u65e5\u672c"
    assert fix_mojibake("plain") == "plain"
