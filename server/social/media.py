"""Images uploaded through the client API: checked, stripped of metadata, previewed,
stored under the data directory, and attached to a status.

Pillow decodes the upload; only a real image of an allowed format within the pixel limit
is kept. Re-encoding (with the EXIF orientation applied first) drops EXIF, GPS and every
other metadata block. The preview is at most PREVIEW_SIDE pixels on its longer side and
gives the blurhash.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import blurhash  # type: ignore[import-untyped]  # no stubs
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import Kind, NotFound, ServiceError, ValidationFailed
from server.models import MediaAttachment
from server.settings import Settings
from server.text_checks import CONTROL_BUT_LINE_BREAKS, holds_nul, without_control_characters

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"),
           "GIF": ("gif", "image/gif"), "WEBP": ("webp", "image/webp")}  # fmt: skip
CONTENT_TYPES = {extension: content_type for extension, content_type in FORMATS.values()}
MAX_SIDE = 8192
MAX_PIXELS = 33_177_600  # 7680 x 4320, Mastodon's limit
PREVIEW_SIDE = 400
MAX_ATTACHMENTS = 4
MAX_DESCRIPTION = 1500
FILE_NAME = re.compile(r"[0-9a-f]{32}(?:_small)?\.(?:jpg|png|gif|webp)")
MAX_REMOTE_ATTACHMENTS = 16  # a remote note's attachments kept, as Mastodon keeps them
MAX_REMOTE_URL = 2048
MAX_REMOTE_SIDE = 100_000
BLURHASH = re.compile(r"[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{6,64}")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")


class MediaTooLarge(ServiceError):
    kind = Kind.too_large
    code = "media_too_large"


class NotAnImage(ServiceError):
    kind = Kind.invalid
    code = "unsupported_media"


@dataclass(frozen=True)
class Upload:
    data: bytes
    description: str = ""
    focus: str = ""


@dataclass(frozen=True)
class Processed:
    original: bytes
    preview: bytes
    extension: str
    width: int
    height: int
    preview_width: int
    preview_height: int
    blurhash: str


def attachments_dir(settings: Settings) -> Path:
    return settings.data_dir / "media" / "attachments"


def parse_focus(focus: str) -> tuple[float, float]:
    """Mastodon's focal point "x,y", each from -1.0 to 1.0 (absent: the centre)."""
    if not focus.strip():
        return 0.0, 0.0
    parts = focus.split(",")
    try:
        x, y = (float(part) for part in parts)
    except ValueError as error:
        raise ValidationFailed("focus must be two numbers, x,y", field="focus") from error
    if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
        raise ValidationFailed("focus must be between -1.0 and 1.0", field="focus")
    return x, y


def _description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION or holds_nul(text):
        raise ValidationFailed(
            f"the description is longer than {MAX_DESCRIPTION} characters", field="description"
        )
    return text


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.verify()  # checks the file's structure; the image must be opened again
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError) as error:  # fmt: skip
        raise NotAnImage("the file is not an image this instance accepts", field="file") from error
    if image.format not in FORMATS:
        raise NotAnImage("images must be JPEG, PNG, GIF or WebP", field="file")
    width, height = image.size
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise MediaTooLarge(f"the image is larger than {MAX_SIDE} pixels a side or 33 Mpx")
    return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, fmt)
    return out.getvalue()


def _hash(preview: Image.Image) -> str:
    """The blurhash of the preview, computed on a 32-pixel copy (it is a blur anyway)."""
    rgb = preview.convert("RGB")
    rgb.thumbnail((32, 32))
    raw, width = rgb.tobytes(), rgb.width
    rows = [
        [list(raw[(y * width + x) * 3 : (y * width + x) * 3 + 3]) for x in range(width)]
        for y in range(rgb.height)
    ]
    return str(blurhash.encode(rows, components_x=4, components_y=3))


def process(data: bytes) -> Processed:
    """The upload re-encoded without metadata (orientation applied), its preview and hash;
    NotAnImage or MediaTooLarge when it may not be kept. Animated images keep one frame."""
    image = _open(data)
    fmt = str(image.format)
    try:
        image.seek(0)
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise NotAnImage("the image could not be decoded", field="file") from error
    if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        upright = upright.convert("RGBA" if "A" in upright.mode else "RGB")
    preview = upright.copy()
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return Processed(
        original=_encode(upright, fmt),
        preview=_encode(preview, fmt),
        extension=FORMATS[fmt][0],
        width=upright.width,
        height=upright.height,
        preview_width=preview.width,
        preview_height=preview.height,
        blurhash=_hash(preview),
    )


def _store(settings: Settings, processed: Processed) -> tuple[str, str]:
    folder = attachments_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex
    names = (f"{stem}.{processed.extension}", f"{stem}_small.{processed.extension}")
    for name, content in zip(names, (processed.original, processed.preview), strict=True):
        (folder / name).write_bytes(content)
    return names


async def upload(
    db: Database, settings: Settings, account_id: int, media: Upload
) -> MediaAttachment:
    """Check, re-encode and store an uploaded image for the account (not attached yet)."""
    if len(media.data) > settings.media_max_bytes:
        raise MediaTooLarge(f"the file is larger than {settings.media_max_bytes} bytes")
    if not media.data:
        raise ValidationFailed("the file is empty", field="file")
    focus = parse_focus(media.focus)
    description = _description(media.description)
    processed = await asyncio.to_thread(process, media.data)
    file_name, preview_name = await asyncio.to_thread(_store, settings, processed)
    row = MediaAttachment(
        account_id=account_id,
        file_name=file_name,
        preview_name=preview_name,
        content_type=CONTENT_TYPES[processed.extension],
        size=len(processed.original),
        width=processed.width,
        height=processed.height,
        preview_width=processed.preview_width,
        preview_height=processed.preview_height,
        focus_x=focus[0],
        focus_y=focus[1],
        description=description,
        blurhash=processed.blurhash,
    )
    async with db.transaction() as session:
        session.add(row)
    return row


async def _own(session: AsyncSession, account_id: int, media_id: int) -> MediaAttachment:
    row = await session.get(MediaAttachment, media_id)
    if row is None or row.account_id != account_id:
        raise NotFound("no such media attachment")
    return row


async def get_own(db: Database, account_id: int, media_id: int) -> MediaAttachment:
    async with db.session() as session:
        return await _own(session, account_id, media_id)


async def update(
    db: Database, account_id: int, media_id: int, description: str | None, focus: str | None
) -> MediaAttachment:
    """Change the description or focal point of one's own attachment."""
    async with db.transaction() as session:
        row = await _own(session, account_id, media_id)
        if description is not None:
            row.description = _description(description)
        if focus is not None:
            row.focus_x, row.focus_y = parse_focus(focus)
        session.add(row)
    return row


async def attach(
    session: AsyncSession, account_id: int, note_id: int, media_ids: list[int]
) -> list[MediaAttachment]:
    """Attach the account's own unattached media to a new note, in the order given; at
    most MAX_ATTACHMENTS, else ValidationFailed (as for an id that is not the account's)."""
    wanted = list(dict.fromkeys(media_ids))
    if not wanted:
        return []
    if len(wanted) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"at most {MAX_ATTACHMENTS} attachments", field="media_ids")
    query = select(MediaAttachment).where(
        col(MediaAttachment.id).in_(wanted),
        MediaAttachment.account_id == account_id,
        col(MediaAttachment.note_id).is_(None),
    )
    rows = {row.id: row for row in (await session.exec(query)).all()}
    if len(rows) != len(wanted):
        raise ValidationFailed("a media id is unknown or already attached", field="media_ids")
    for row in rows.values():
        row.note_id = note_id
        session.add(row)
    await session.flush()
    return [rows[media_id] for media_id in wanted]


async def for_notes(session: AsyncSession, note_ids: list[int]) -> dict[int, list[MediaAttachment]]:
    """Each note's attachments in upload order (notes without any are absent)."""
    found: dict[int, list[MediaAttachment]] = {}
    if not note_ids:
        return found
    query = select(MediaAttachment).where(col(MediaAttachment.note_id).in_(set(note_ids)))
    for row in (await session.exec(query.order_by(col(MediaAttachment.id)))).all():
        found.setdefault(row.note_id or 0, []).append(row)
    return found


def _remote_url(value: object) -> str:
    """An attachment's `url`: a string, a Link (`href`), or a list of them (the first)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("href")
    if not isinstance(value, str) or len(value) > MAX_REMOTE_URL:
        return ""
    return value if value.startswith(("https://", "http://")) and " " not in value else ""


def _side(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if 0 < value <= MAX_REMOTE_SIDE else 0


def _remote_focus(value: object) -> tuple[float, float]:
    """Mastodon's `focalPoint` [x, y], each from -1.0 to 1.0; the centre otherwise."""
    if not isinstance(value, list) or len(value) != 2:
        return 0.0, 0.0
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return 0.0, 0.0
    x, y = float(value[0]), float(value[1])
    return (x, y) if -1.0 <= x <= 1.0 and -1.0 <= y <= 1.0 else (0.0, 0.0)


def _remote_one(item: object) -> MediaAttachment | None:
    if not isinstance(item, dict):
        return None
    url = _remote_url(item.get("url"))
    if not url:
        return None  # as Mastodon: an attachment without a usable URL is skipped
    media_type = item.get("mediaType")
    media_type = media_type.lower() if isinstance(media_type, str) else ""
    name = item.get("summary") or item.get("name")
    description = (
        without_control_characters(name, CONTROL_BUT_LINE_BREAKS) if isinstance(name, str) else ""
    )
    blur = item.get("blurhash")
    focus = _remote_focus(item.get("focalPoint"))
    return MediaAttachment(
        account_id=None,
        file_name="",
        preview_name="",
        content_type=media_type if MEDIA_TYPE.fullmatch(media_type[:32]) else "",
        width=_side(item.get("width")),
        height=_side(item.get("height")),
        focus_x=focus[0],
        focus_y=focus[1],
        description=description[:MAX_DESCRIPTION],
        blurhash=blur if isinstance(blur, str) and BLURHASH.fullmatch(blur) else "",
        remote_url=url,
    )


def remote_attachments(value: object) -> list[MediaAttachment]:
    """A remote note's `attachment` (Document, Image, Video, Audio...) as rows to store:
    the URL, mediaType, description (`summary` or `name`), blurhash, focal point and size
    it declares; nothing is downloaded. At most MAX_REMOTE_ATTACHMENTS; items without an
    http(s) URL are left out."""
    items = value if isinstance(value, list) else [value] if value is not None else []
    found = [row for row in (_remote_one(item) for item in items) if row is not None]
    return found[:MAX_REMOTE_ATTACHMENTS]


def stored_file(settings: Settings, name: str) -> tuple[Path, str]:
    """The path and content type of a stored attachment file; NotFound for any other name."""
    if not FILE_NAME.fullmatch(name):
        raise NotFound("no such file")
    path = attachments_dir(settings) / name
    if not path.is_file():
        raise NotFound("no such file")
    return path, CONTENT_TYPES[name.rsplit(".", 1)[1]]
