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


def render_media(settings: Settings, attachment: MediaAttachment) -> dict[str, Any]:
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
