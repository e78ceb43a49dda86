"""Reading an uploaded export without trusting it: one file, or a zip holding the file.

A zip is checked before anything is read (member count, names: no absolute paths, no `..`,
no symlinks, no encryption) and again while each member streams out: its real uncompressed
size against the per-member and total limits and against its compressed size (the bomb
ratio), whatever its header claims. Text is UTF-8 with or without a byte-order mark (UTF-16
with a mark is accepted too: spreadsheets save CSV that way); Meta's exports write their
JSON strings as UTF-8 bytes read as latin-1 ("CafÃ©"), which `fix_mojibake` undoes.
"""

from __future__ import annotations

import codecs
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bridges.errors import ImportRefused

MiB = 1024 * 1024
_CHUNK = 1 * MiB
_EOCD = b"PK\x05\x06"


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 4096 * MiB  # the upload itself (a zip with photos is large)
    member_bytes: int = 256 * MiB  # one file we read, uncompressed
    total_bytes: int = 512 * MiB  # everything we read from one upload, uncompressed
    ratio: int = 100  # uncompressed / compressed, beyond `ratio_floor` bytes
    ratio_floor: int = 1 * MiB  # tiny members compress absurdly well and harm nobody
    members: int = 50_000


DEFAULT_LIMITS = Limits()


class Upload:
    """One uploaded file, as a list of member names and a way to read a member's bytes.

    A lone file has one member, its own name. Use `open_upload`, which closes the zip."""

    def __init__(self, path: Path, limits: Limits, archive: zipfile.ZipFile | None) -> None:
        self.path = path
        self.limits = limits
        self._zip = archive
        self._read_total = 0
        self.names: list[str] = (
            [info.filename for info in archive.infolist() if not info.is_dir()]
            if archive is not None
            else [path.name]
        )

    @property
    def is_zip(self) -> bool:
        return self._zip is not None

    def size(self, name: str) -> int:
        """The member's declared uncompressed size (a lone file's size): for progress only."""
        if self._zip is None:
            return self.path.stat().st_size
        return self._zip.getinfo(name).file_size

    def head(self, count: int = 4096) -> bytes:
        """The first bytes of a lone file (for recognising it by content)."""
        with self.path.open("rb") as handle:
            return handle.read(count)

    def read(self, name: str) -> bytes:
        """The member's bytes, refused as soon as a limit is crossed while reading."""
        if self._zip is None:
            data = self._read_file()
        else:
            data = self._read_member(self._zip, name)
        self._read_total += len(data)
        if self._read_total > self.limits.total_bytes:
            raise ImportRefused(
                f"the export holds more than {_mib(self.limits.total_bytes)} of likes data"
            )
        return data

    def read_text(self, name: str) -> str:
        return decode_text(self.read(name), name)

    def _read_file(self) -> bytes:
        limit = self.limits.member_bytes
        with self.path.open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ImportRefused(f"the file is larger than {_mib(limit)}")
        return data

    def _read_member(self, archive: zipfile.ZipFile, name: str) -> bytes:
        info = archive.getinfo(name)
        limits = self.limits
        if info.file_size > limits.member_bytes:
            raise ImportRefused(f"{name} is larger than {_mib(limits.member_bytes)}")
        chunks: list[bytes] = []
        size = 0
        try:
            with archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    size += len(chunk)
                    _check_stream(name, size, info.compress_size, limits)
                    chunks.append(chunk)
        except NotImplementedError as error:
            raise ImportRefused(f"{name} is compressed in a way we do not read") from error
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as error:
            raise ImportRefused(
                f"the zip is damaged or incomplete ({name}: {error}); download it again"
            ) from error
        return b"".join(chunks)


def _check_stream(name: str, size: int, compressed: int, limits: Limits) -> None:
    if size > limits.member_bytes:
        raise ImportRefused(f"{name} is larger than {_mib(limits.member_bytes)}")
    if size > limits.ratio_floor and size > limits.ratio * max(compressed, 1):
        raise ImportRefused(
            f"{name} expands more than {limits.ratio} times: a zip bomb, not an export"
        )


@contextmanager
def open_upload(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Upload]:
    """The upload at `path`, checked: a zip's directory and names, or a lone file's size."""
    try:
        status = path.stat()
    except OSError as error:
        raise ImportRefused(f"the upload cannot be read: {error.strerror}") from error
    if not stat.S_ISREG(status.st_mode):
        raise ImportRefused("the upload is not a file")
    if status.st_size > limits.file_bytes:
        raise ImportRefused(f"the upload is larger than {_mib(limits.file_bytes)}")
    if not _looks_like_zip(path):
        yield Upload(path, limits, None)
        return
    _check_member_count(path, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ImportRefused(
            "the zip is damaged or incomplete (an interrupted download?); download it again"
        ) from error
    with archive:
        _check_members(archive, limits)
        yield Upload(path, limits, archive)


def _looks_like_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", _EOCD)


def _check_member_count(path: Path, limits: Limits) -> None:
    """Count members from the end record before `zipfile` reads the whole directory."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        handle.seek(max(0, end - 65_557))
        tail = handle.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        raise ImportRefused(
            "the zip is damaged or incomplete (no directory at its end: an interrupted "
            "download?); download it again"
        )
    (count,) = struct.unpack("<H", tail[at + 10 : at + 12])
    if count != 0xFFFF and count > limits.members:
        raise ImportRefused(f"the zip holds more than {limits.members} files")


def _check_members(archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.members:
        raise ImportRefused(f"the zip holds more than {limits.members} files")
    for info in infos:
        refusal = unsafe_name(info.filename)
        if refusal:
            raise ImportRefused(f"the zip holds a file named {info.filename!r}: {refusal}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportRefused(f"the zip holds a symbolic link ({info.filename})")
        if info.flag_bits & 0x1:
            raise ImportRefused(f"the zip is password-protected ({info.filename})")


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name(name: str) -> str:
    """Why a member name is refused ("" if it is safe): it would land outside a folder."""
    if not name or "\x00" in name:
        return "an empty or NUL-bearing name"
    normal = name.replace("\\", "/")
    if normal.startswith("/") or _DRIVE.match(normal):
        return "an absolute path"
    if ".." in PurePosixPath(normal).parts:
        return "a path that climbs out of its folder"
    return ""


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (a byte-order mark is dropped), or UTF-16 with its mark; anything else is
    refused, naming the file and the encoding expected."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ImportRefused(f"{name} is not valid UTF-16 text") from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefused(
            f"{name} is not UTF-8 text (byte {error.start}); upload the file exactly as "
            "the network's download gave it"
        ) from error


def fix_mojibake(text: str) -> str:
    """Undo Meta's encoding: each UTF-8 byte written as its own code point ("CafÃ©" for
    "Café"). Text that is not such a sequence (a real "é") is returned as it is."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _mib(count: int) -> str:
    return f"{count / MiB:g} MiB"
