"""A tiny DAG-CBOR encoder and CAR v1 writer: enough to write Bluesky repository exports
(records and a root block) for the importer's tests."""

from __future__ import annotations

import hashlib
import struct
from typing import Any


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise ValueError(arg)


def encode(value: Any) -> bytes:
    if value is None:
        return b"\xf6"
    if value is True or value is False:
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return _head(3, len(raw)) + raw
    if isinstance(value, Link):
        return b"\xd8\x2a" + encode(b"\x00" + value.cid)
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return _head(5, len(keys)) + b"".join(encode(k) + encode(value[k]) for k in keys)
    raise TypeError(type(value))


class Link:
    def __init__(self, cid: bytes) -> None:
        self.cid = cid


def cid_for(block: bytes) -> bytes:
    """CIDv1, dag-cbor, sha2-256."""
    return b"\x01\x71\x12\x20" + hashlib.sha256(block).digest()


def write_car(records: list[dict[str, Any]]) -> bytes:
    blocks = [encode(record) for record in records]
    cids = [cid_for(block) for block in blocks]
    # A root commit-like block linking the records (the importer does not walk the tree).
    root = encode({"did": "did:plc:donor", "version": 3, "data": [Link(c) for c in cids]})
    root_cid = cid_for(root)
    header = encode({"roots": [Link(root_cid)], "version": 1})
    out = bytearray(varint(len(header)) + header)
    for cid, block in [(root_cid, root), *zip(cids, blocks, strict=True)]:
        out += varint(len(cid) + len(block)) + cid + block
    return bytes(out)


def like(subject_did: str, rkey: str, created_at: str) -> dict[str, Any]:
    return {
        "$type": "app.bsky.feed.like",
        "createdAt": created_at,
        "subject": {
            "cid": "bafyreigh2akiscaildc",
            "uri": f"at://{subject_did}/app.bsky.feed.post/{rkey}",
        },
    }
