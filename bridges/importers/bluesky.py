"""A Bluesky repository export (`com.atproto.sync.getRepo`, "Export my data"): a CAR file.

CAR v1 (ipld.io/specs/transport/car/carv1): a varint-prefixed DAG-CBOR header
`{"version": 1, "roots": [CID]}`, then blocks, each `varint(len) CID data`. Every block is
checked against its CID's SHA-256 and decoded by a small strict DAG-CBOR reader (definite
lengths only, string map keys, tag 42 for links, bounded depth); the records whose `$type`
is `app.bsky.feed.like` are the likes: `subject.uri` (`at://<did>/app.bsky.feed.post/<rkey>`)
is the item (as the Bluesky bridge names it), its DID the creator, `createdAt` the time.
"""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path
from typing import Any

from bridges.base import Creator
from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, open_upload
from bridges.importers.base import ImportedLike, ImportResult, Progress
from bridges.importers.fields import Meter, iso_time

NETWORK = "bluesky"
LIKE_TYPE = "app.bsky.feed.like"
_MAX_DEPTH = 32
_MAX_BLOCK = 2 * 1024 * 1024
_SUBJECT = re.compile(
    r"^at://(did:(?:plc|web):[A-Za-z0-9._:%-]{1,200})/([A-Za-z0-9.]{1,100})/([A-Za-z0-9._:~-]{1,100})$"
)


class CarError(ValueError):
    pass


def varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise CarError("truncated or overlong varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


class _Cbor:
    """DAG-CBOR, strictly: what atproto records and MST nodes use, nothing more."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int) -> bytes:
        if count > len(self.data) - self.at:
            raise CarError("CBOR runs past its block")
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def argument(self, info: int) -> int:
        if info < 24:
            return info
        sizes = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in sizes:
            raise CarError("indefinite or reserved CBOR length")
        return int.from_bytes(self.take(sizes[info]), "big")

    def value(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise CarError("CBOR nested too deeply")
        first = self.take(1)[0]
        major, info = first >> 5, first & 0x1F
        if major == 7:
            return self.simple(info)
        arg = self.argument(info)
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self.take(arg)
        if major == 3:
            try:
                return self.take(arg).decode("utf-8")
            except UnicodeDecodeError as error:
                raise CarError("CBOR text is not UTF-8") from error
        if major in (4, 5) and arg > len(self.data) - self.at:
            raise CarError("CBOR container longer than its block")
        if major == 4:
            return [self.value(depth + 1) for _ in range(arg)]
        if major == 5:
            return self.mapping(arg, depth)
        if arg != 42:
            raise CarError(f"CBOR tag {arg} is not DAG-CBOR")
        link = self.value(depth + 1)
        if not isinstance(link, bytes):
            raise CarError("a CID link that is not bytes")
        return ("cid", link)

    def mapping(self, count: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _ in range(count):
            key = self.value(depth + 1)
            if not isinstance(key, str):
                raise CarError("a CBOR map key that is not text")
            out[key] = self.value(depth + 1)
        return out

    def simple(self, info: int) -> Any:
        if info in (20, 21):
            return info == 21
        if info == 22:
            return None
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        raise CarError("a CBOR simple value DAG-CBOR does not allow")


def decode_cbor(data: bytes) -> Any:
    reader = _Cbor(data)
    value = reader.value()
    if reader.at != len(data):
        raise CarError("bytes after the CBOR value")
    return value


def _cid(data: bytes, at: int) -> tuple[bytes, int, int]:
    """(sha-256 digest or b"" for identity hashes, hash code, position after the CID)."""
    if data[at : at + 2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return data[at + 2 : at + 34], 0x12, at + 34
    version, at = varint(data, at)
    if version != 1:
        raise CarError(f"CID version {version}")
    _, at = varint(data, at)  # codec: dag-cbor, raw
    code, at = varint(data, at)
    length, at = varint(data, at)
    if at + length > len(data):
        raise CarError("CID runs past its block")
    return data[at : at + length], code, at + length


class BlueskyImporter:
    network = NETWORK
    label = "Bluesky repository export (CAR)"
    expects = "your Bluesky repository export (Settings → Export my data): a .car file"

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def matches(self, names: list[str]) -> bool:
        return any(name.lower().endswith(".car") for name in names)

    def sniff(self, head: bytes) -> bool:
        try:
            length, at = varint(head, 0)
            header = head[at : at + length]
        except CarError:
            return False
        return b"roots" in header and b"version" in header and header[:1] in (b"\xa2",)

    def parse(self, path: Path, progress: Progress | None = None) -> ImportResult:
        result = ImportResult(NETWORK)
        with open_upload(path, self.limits) as upload:
            names = [n for n in upload.names if n.lower().endswith(".car")]
            if not upload.is_zip:
                names = upload.names
            if len(names) != 1:
                raise ImportRefused(f"expected one .car file: {self.expects}")
            data = upload.read(names[0])
        try:
            _read_car(data, result, Meter(progress, len(data), every=500))
        except CarError as error:
            raise ImportRefused(
                f"the file is not a readable Bluesky CAR export ({error}); {self.expects}"
            ) from error
        if progress is not None:
            progress(len(data), len(data))
        return result


def _read_car(data: bytes, result: ImportResult, meter: Meter) -> None:
    length, at = varint(data, 0)
    if length == 0 or length > 64 * 1024:
        raise CarError("no CAR header")
    header = decode_cbor(data[at : at + length])
    if not isinstance(header, dict) or header.get("version") != 1:
        raise CarError("not a CAR version 1 header")
    at += length
    while at < len(data):
        length, at = varint(data, at)
        end = at + length
        if length == 0 or length > _MAX_BLOCK or end > len(data):
            raise CarError("a block is truncated or too large")
        digest, code, start = _cid(data, at)
        block = data[start:end]
        if code == 0x12 and hashlib.sha256(block).digest() != digest:
            raise CarError("a block does not match its CID")
        if b"app.bsky.feed.like" in block:
            _record(decode_cbor(block), result)
        meter.advance_to(end)
        at = end


def _record(record: Any, result: ImportResult) -> None:
    if not isinstance(record, dict) or record.get("$type") != LIKE_TYPE:
        return
    subject = record.get("subject")
    uri = subject.get("uri") if isinstance(subject, dict) else None
    match = _SUBJECT.match(uri) if isinstance(uri, str) else None
    if match is None or not isinstance(uri, str):
        result.skipped += 1
        return
    result.likes.append(
        ImportedLike(
            network=NETWORK,
            item_id=uri,
            item_url=uri,
            creator=Creator(NETWORK, match.group(1)),
            liked_at=iso_time(record.get("createdAt")),
        )
    )
