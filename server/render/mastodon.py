"""Mastodon API entities (https://docs.joinmastodon.org/entities/), not on models."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.models import Account
from server.settings import Settings

DEFAULT_AVATAR = "/static/avatar.png"
DEFAULT_HEADER = "/static/header.png"
ACCOUNT_MEDIA_PATH = "/media/accounts/"
URL_VALUE = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class AccountCounts:
    followers: int = 0
    following: int = 0
    statuses: int = 0
    last_status_at: datetime | None = None


def iso_datetime(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z") if value else ""


def field_value_html(value: str) -> str:
    """A profile field's value as Mastodon writes it: a URL becomes its shortened link with
    rel="me" (what rel=me verification reads), anything else is escaped text."""
    text = value.strip()
    if not URL_VALUE.fullmatch(text):
        return html.escape(text, quote=False)
    prefix = re.match(r"https?://(www\.)?", text)
    start = prefix.end() if prefix else 0
    shown, rest = text[start : start + 30], text[start + 30 :]
    return (
        f'<a href="{html.escape(text)}" target="_blank" rel="nofollow noopener me" '
        f'translate="no"><span class="invisible">{html.escape(text[:start])}</span>'
        f'<span class="{"ellipsis" if rest else ""}">{html.escape(shown)}</span>'
        f'<span class="invisible">{html.escape(rest)}</span></a>'
    )


def profile_fields(account: Account) -> list[tuple[str, str]]:
    """The account's profile fields as typed: (name, value) pairs."""
    try:
        stored = json.loads(account.fields or "[]")
    except ValueError:
        return []
    if not isinstance(stored, list):
        return []
    return [
        (str(item.get("name", "")), str(item.get("value", "")))
        for item in stored
        if isinstance(item, dict)
    ]


def remote_fields(stored: str) -> list[dict[str, Any]]:
    """A remote actor's profile fields as Account `fields`: stored already sanitized
    (server/federation/remote.py), never verified here."""
    try:
        found = json.loads(stored or "[]")
    except ValueError:
        return []
    if not isinstance(found, list):
        return []
    return [
        {
            "name": str(item.get("name", "")),
            "value": str(item.get("value", "")),
            "verified_at": None,
        }
        for item in found
        if isinstance(item, dict)
    ]


def media_url(settings: Settings, path: str, default: str) -> str:
    return settings.base_url + (ACCOUNT_MEDIA_PATH + path if path else default)


def account_media_and_counts(
    avatar: str, header: str, counts: AccountCounts | None = None
) -> dict[str, Any]:
    """The Account fields a local and a remote account fill alike (Tusky needs the images)."""
    counts = counts or AccountCounts()
    last = counts.last_status_at
    return {
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": counts.followers,
        "following_count": counts.following,
        "statuses_count": counts.statuses,
        "last_status_at": last.strftime("%Y-%m-%d") if last else None,
        "emojis": [],
        "fields": [],
    }


def _source(account: Account, fields: list[tuple[str, str]], requests: int) -> dict[str, Any]:
    return {
        "privacy": account.privacy or "public",
        "sensitive": account.sensitive,
        "language": account.language,  # documented: a code, or "" when none is set
        "note": account.note_source,
        "fields": [{"name": name, "value": value, "verified_at": None} for name, value in fields],
        "follow_requests_count": requests,
        "hide_collections": False,
        "discoverable": account.discoverable,
        "indexable": account.discoverable,
    }


def render_account(
    settings: Settings,
    account: Account,
    *,
    source: bool = False,
    counts: AccountCounts | None = None,
    follow_requests: int = 0,
) -> dict[str, Any]:
    avatar = media_url(settings, account.avatar_path, DEFAULT_AVATAR)
    header = media_url(settings, account.header_path, DEFAULT_HEADER)
    fields = profile_fields(account)
    data: dict[str, Any] = {
        "id": str(account.id),
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "locked": account.locked,
        "bot": account.bot,
        "discoverable": account.discoverable,
        "indexable": account.discoverable,
        "group": False,
        "noindex": not account.discoverable,
        "created_at": iso_datetime(account.created_at),
        "note": account.summary,
        "url": f"{settings.base_url}/@{account.username}",
        "uri": f"{settings.base_url}/users/{account.username}",
        "roles": [],
        "hide_collections": False,
        **account_media_and_counts(avatar, header, counts),
    }
    data["fields"] = [
        {"name": name, "value": field_value_html(value), "verified_at": None}
        for name, value in fields
    ]
    if source:
        data["source"] = _source(account, fields, follow_requests)
    return data
