"""Avatars and headers: checked with Pillow (a real image, at most 8 MB and 4096x4096
pixels), re-encoded (which drops what the file carried besides its pixels, such as a
location), and stored under `<data_dir>/media/accounts/`."""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from server.domain_errors import Kind, NotFound, ServiceError
from server.settings import Settings

MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE = 4096
ACCEPTED = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
STORED_NAME = re.compile(r"[0-9]{1,19}-(avatar|header)-[0-9a-f]{32}\.(png|jpg)")


class InvalidImage(ServiceError):
    kind = Kind.invalid
    code = "invalid_image"


@dataclass(frozen=True)
class Upload:
    """An image file as a client sent it."""

    data: bytes
    filename: str = ""


def media_dir(settings: Settings) -> Path:
    return settings.data_dir / "media" / "accounts"


def _decoded(data: bytes, field: str) -> Image.Image:
    if len(data) > MAX_BYTES:
        raise InvalidImage(f"the {field} is larger than 8 MB", field=field)
    if not data:
        raise InvalidImage(f"the {field} is an empty file", field=field)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if kind not in ACCEPTED:
            raise InvalidImage(f"the {field} must be a PNG, JPEG, GIF or WebP image", field=field)
        if image.width > MAX_SIDE or image.height > MAX_SIDE:
            raise InvalidImage(
                f"the {field} is larger than {MAX_SIDE}x{MAX_SIDE} pixels", field=field
            )
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise InvalidImage(
            f"the {field} is not an image this server can read", field=field
        ) from exc
    return image


def encoded(data: bytes, field: str) -> tuple[bytes, str]:
    """The image re-encoded: PNG when it has transparency, else JPEG; and its extension."""
    image = _decoded(data, field)
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P") or "transparency" in image.info:
        image.convert("RGBA").save(out, format="PNG", optimize=True)
        return out.getvalue(), "png"
    image.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue(), "jpg"


def store(settings: Settings, account_id: int, kind: str, upload: Upload) -> str:
    """Check, re-encode and write the image; its file name (relative to `media_dir`)."""
    body, extension = encoded(upload.data, kind)
    folder = media_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{account_id}-{kind}-{secrets.token_hex(16)}.{extension}"
    partial = folder / f".{name}.part"
    partial.write_bytes(body)
    partial.replace(folder / name)
    return name


def remove(settings: Settings, name: str) -> None:
    """Delete a replaced image (a name this module made; anything else is left alone)."""
    if STORED_NAME.fullmatch(name):
        (media_dir(settings) / name).unlink(missing_ok=True)


def stored_file(settings: Settings, name: str) -> Path:
    """The file of a stored avatar or header, for serving; NotFound for any other name."""
    path = media_dir(settings) / name
    if not STORED_NAME.fullmatch(name) or not path.is_file():
        raise NotFound("no such image")
    return path
