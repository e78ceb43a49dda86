"""Mastodon Status entities for local and cached remote notes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.models import Account, Actor, Note
from server.render.mastodon import (
    DEFAULT_AVATAR,
    DEFAULT_HEADER,
    account_media_and_counts,
    iso_datetime,
    render_account,
)
from server.settings import Settings


@dataclass(frozen=True)
class StatusView:
    note: Note
    author: Actor
    account: Account | None
    favourites: int
    reblogs: int
    favourited: bool


def render_remote_account(settings: Settings, actor: Actor) -> dict[str, Any]:
    avatar = actor.icon_url or settings.base_url + DEFAULT_AVATAR
    header = settings.base_url + DEFAULT_HEADER
    return {
        "id": f"r{actor.id}",
        "username": actor.username,
        "acct": f"{actor.username}@{actor.domain}",
        "display_name": actor.name,
        "locked": False,
        "bot": actor.type in ("Service", "Application"),
        "discoverable": None,
        "group": actor.type == "Group",
        "created_at": iso_datetime(actor.created_at),
        "note": actor.summary,
        "url": actor.url or actor.uri,
        "uri": actor.uri,
        **account_media_and_counts(avatar, header),
    }


def render_status(settings: Settings, view: StatusView) -> dict[str, Any]:
    note = view.note
    account = (
        render_account(settings, view.account)
        if view.account is not None
        else render_remote_account(settings, view.author)
    )
    return {
        "id": str(note.id),
        "uri": note.uri,
        "url": note.url or note.uri,
        "created_at": iso_datetime(note.published_at),
        "edited_at": iso_datetime(note.updated_at) or None,
        "account": account,
        "content": note.content,
        "visibility": note.visibility,
        "sensitive": note.sensitive,
        "spoiler_text": note.summary,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "reblogs_count": view.reblogs,
        "favourites_count": view.favourites,
        "replies_count": 0,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "reblog": None,
        "poll": None,
        "card": None,
        "language": None,
        "text": None,
        "application": None,
        "favourited": view.favourited,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
    }
