"""Mastodon API entities (https://docs.joinmastodon.org/entities/), not on models."""

from __future__ import annotations

from typing import Any

from server.models import Account
from server.settings import Settings

DEFAULT_AVATAR = "/static/avatar.png"
DEFAULT_HEADER = "/static/header.png"


def iso_datetime(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z") if value else ""


def account_media_and_counts(avatar: str, header: str) -> dict[str, Any]:
    """The Account fields a local and a remote account fill alike (Tusky needs the images)."""
    return {
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "last_status_at": None,
        "emojis": [],
        "fields": [],
    }


def render_account(settings: Settings, account: Account, *, source: bool = False) -> dict[str, Any]:
    avatar = settings.base_url + DEFAULT_AVATAR
    header = settings.base_url + DEFAULT_HEADER
    data: dict[str, Any] = {
        "id": str(account.id),
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "locked": account.locked,
        "bot": False,
        "discoverable": account.discoverable,
        "group": False,
        "created_at": iso_datetime(account.created_at),
        "note": account.summary,
        "url": f"{settings.base_url}/@{account.username}",
        "uri": f"{settings.base_url}/users/{account.username}",
        **account_media_and_counts(avatar, header),
    }
    if source:
        data["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": account.summary,
            "fields": [],
            "follow_requests_count": 0,
        }
    return data
