from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.bluesky import CarError, decode_cbor
from bridges.importers.registry import parse
from tests.bridges.importers.car import encode, like, varint, write_car
from tests.bridges.importers.conftest import MakeZip, sample


def test_like_records_in_a_repository_export() -> None:
    # Given the committed export: two likes, a post, a like with a bad subject
    result = parse(sample("bluesky/repo.car"), "bluesky")
    # Then
    first, second = result.likes
    uri = "at://did:plc:alice000000000000000000/app.bsky.feed.post/3kabc000001"
    assert first.item_id == first.item_url == uri
    assert first.creator == Creator("bluesky", "did:plc:alice000000000000000000")
    assert first.liked_at == datetime(2024, 12, 1, 10, tzinfo=UTC)
    assert second.creator == Creator("bluesky", "did:plc:bob00000000000000000000")
    assert result.skipped == 1


def test_a_car_inside_a_zip_and_an_empty_repository(make_zip: MakeZip) -> None:
    assert len(parse(make_zip({"repo.car": sample("bluesky/repo.car")})).likes) == 2
    assert parse(sample("bluesky/repo_empty.car")).likes == []


def test_many_likes_and_progress(tmp_path: Path) -> None:
    records = [like(f"did:plc:{n:024d}", f"3k{n:09d}", "2024-12-01T10:00:00Z") for n in range(3000)]
    path = tmp_path / "repo.car"
    path.write_bytes(write_car(records))
    calls: list[tuple[int, int]] = []
    result = parse(path, progress=lambda done, total: calls.append((done, total)))
    assert len(result.likes) == 3000
    assert len(calls) >= 2 and calls[-1] == (path.stat().st_size, path.stat().st_size)


def test_a_block_that_does_not_match_its_cid_is_refused(tmp_path: Path) -> None:
    data = bytearray(sample("bluesky/repo.car").read_bytes())
    at = data.find(b"3kabc000001")
    data[at] = ord("X")
    path = tmp_path / "repo.car"
    path.write_bytes(bytes(data))
    with pytest.raises(ImportRefused, match="does not match its CID"):
        parse(path, "bluesky")


def test_a_truncated_car_is_refused(tmp_path: Path) -> None:
    data = sample("bluesky/repo.car").read_bytes()
    path = tmp_path / "repo.car"
    path.write_bytes(data[:-10])
    with pytest.raises(ImportRefused, match="truncated"):
        parse(path, "bluesky")


def test_a_file_that_is_not_a_car_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "repo.car"
    path.write_bytes(b"\x05hello world")
    with pytest.raises(ImportRefused):
        parse(path, "bluesky")


@pytest.mark.parametrize(
    "data",
    [
        b"\x9f\x01\xff",  # indefinite-length array
        b"\xa1\x01\x02",  # an integer map key
        b"\xc1\x01",  # a tag other than 42
        b"\x7b" + b"\xff" * 8,  # a string claiming 2^64 bytes
        b"\x9b" + b"\x00\x00\x00\x00\xff\xff\xff\xff",  # an array longer than its block
        b"\x81" * 40 + b"\x01",  # nested too deeply
        b"\x01\x02",  # bytes after the value
        b"\xf7",  # undefined
    ],
)
def test_the_cbor_reader_is_strict(data: bytes) -> None:
    with pytest.raises(CarError):
        decode_cbor(data)


def test_the_cbor_reader_reads_what_records_use() -> None:
    value = {"a": [1, -2, "x", b"\x00", None, True, 1.5], "b": {"c": 2**40}}
    assert decode_cbor(encode(value)) == value
    assert varint(300) == b"\xac\x02"
