"""Mastodon MediaAttachment entities (https://docs.joinmastodon.org/entities/MediaAttachment/)."""

from __future__ import annotations

from typing import Any

from server.models import MediaAttachment
from server.settings import Settings

ATTACHMENTS_PATH = "/media/attachments/"


def _dimensions(width: int, height: int) -> dict[str, Any]:
    return {
        "width": width,
        "height": height,
        "size": f"{width}x{height}",
        "aspect": round(width / height, 6) if height else 1.0,
    }


def media_type(content_type: str) -> str:
    """Mastodon's attachment type for a MIME type (a remote attachment's mediaType)."""
    kind = content_type.split("/", 1)[0]
    return kind if kind in ("image", "video", "audio") else "unknown"


def _remote(attachment: MediaAttachment) -> dict[str, Any]:
    """A remote note's attachment: never downloaded, so its `url` is where it lives."""
    kind = media_type(attachment.content_type)
    meta: dict[str, Any] = {}
    if attachment.width and attachment.height:
        meta["original"] = _dimensions(attachment.width, attachment.height)
    if kind == "image":
        meta["focus"] = {"x": attachment.focus_x, "y": attachment.focus_y}
    return {
        "id": str(attachment.id),
        "type": kind,
        "url": attachment.remote_url,
        "preview_url": attachment.remote_url if kind == "image" else None,
        "remote_url": attachment.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": attachment.description or None,
        "blurhash": attachment.blurhash or None,
    }


def render_media(settings: Settings, attachment: MediaAttachment) -> dict[str, Any]:
    if attachment.remote_url:
        return _remote(attachment)
    base = settings.base_url + ATTACHMENTS_PATH
    return {
        "id": str(attachment.id),
        "type": "image",
        "url": base + attachment.file_name,
        "preview_url": base + attachment.preview_name,
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": {
            "original": _dimensions(attachment.width, attachment.height),
            "small": _dimensions(attachment.preview_width, attachment.preview_height),
            "focus": {"x": attachment.focus_x, "y": attachment.focus_y},
        },
        "description": attachment.description or None,
        "blurhash": attachment.blurhash or None,
    }
