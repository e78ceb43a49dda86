"""Mastodon Status entities for local and cached remote notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from server.models import Account, Actor, MediaAttachment, Note
from server.render.mastodon import (
    DEFAULT_AVATAR,
    DEFAULT_HEADER,
    account_media_and_counts,
    iso_datetime,
    remote_fields,
    render_account,
)
from server.render.media import render_media
from server.settings import Settings


@dataclass(frozen=True)
class StatusView:
    """A note as one viewer sees it. `reply_author`: the author of the note it replies to;
    `reblog`: the shared note, when this is a reblog; `payable`: whether a like's share
    reaches its author; `projected_share`: the viewer's share for a like of it if the
    month closed now (None without a viewer)."""

    note: Note
    author: Actor
    account: Account | None
    favourites: int
    reblogs: int
    favourited: bool
    replies: int = 0
    reblogged: bool = False
    bookmarked: bool = False
    mentions: Sequence[Actor] = ()
    tags: Sequence[str] = ()
    reply_author: Actor | None = None
    reblog: StatusView | None = None
    payable: bool = False
    projected_share: int | None = None
    media: Sequence[MediaAttachment] = ()
    # The app the status was posted from, {name, website}: shown to its author only.
    application: Mapping[str, str | None] | None = None


def account_id(actor: Actor) -> str:
    """An actor's Mastodon account id: a local account's id, r<actor id> for others."""
    return str(actor.account_id) if actor.is_local and actor.account_id else f"r{actor.id}"


def _mention(actor: Actor) -> dict[str, Any]:
    acct = actor.username if actor.is_local else f"{actor.username}@{actor.domain}"
    return {
        "id": account_id(actor),
        "username": actor.username,
        "url": actor.url or actor.uri,
        "acct": acct,
    }


def _likewise(settings: Settings, view: StatusView) -> dict[str, Any]:
    share = view.projected_share
    return {
        "payable": view.payable,
        "projected_share": None
        if share is None
        else {"amount": share, "currency": settings.currency},
    }


def render_remote_account(settings: Settings, actor: Actor) -> dict[str, Any]:
    avatar = actor.icon_url or settings.base_url + DEFAULT_AVATAR
    header = actor.header_url or settings.base_url + DEFAULT_HEADER
    data: dict[str, Any] = {
        "id": f"r{actor.id}",
        "username": actor.username,
        "acct": f"{actor.username}@{actor.domain}",
        "display_name": actor.name,
        "locked": False,
        "bot": actor.type in ("Service", "Application"),
        "discoverable": None,
        "indexable": False,
        "group": actor.type == "Group",
        "created_at": iso_datetime(actor.created_at),
        "note": actor.summary,
        "url": actor.url or actor.uri,
        "uri": actor.uri,
        "roles": [],
        "hide_collections": None,  # what the other server shows of its follows is not kept
        **account_media_and_counts(avatar, header),
    }
    data["fields"] = remote_fields(actor.fields)
    return data


def tag_url(settings: Settings, name: str) -> str:
    """The tag's public page (`/tags/<name>`)."""
    return f"{settings.base_url}/tags/{quote(name)}"


def render_tag(settings: Settings, name: str) -> dict[str, Any]:
    """A Tag entity as search lists it (no usage history is kept: `history` is empty)."""
    return {"name": name, "url": tag_url(settings, name), "history": []}


def render_status(settings: Settings, view: StatusView) -> dict[str, Any]:
    note = view.note
    account = (
        render_account(settings, view.account)
        if view.account is not None
        else render_remote_account(settings, view.author)
    )
    reply = view.reply_author
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
        "media_attachments": [render_media(settings, media) for media in view.media],
        "mentions": [_mention(actor) for actor in view.mentions],
        "tags": [{"name": tag, "url": tag_url(settings, tag)} for tag in view.tags],
        "emojis": [],
        "reblogs_count": view.reblogs,
        "favourites_count": view.favourites,
        "replies_count": view.replies,
        "in_reply_to_id": str(note.in_reply_to_id) if note.in_reply_to_id else None,
        "in_reply_to_account_id": account_id(reply) if reply is not None else None,
        "reblog": render_status(settings, view.reblog) if view.reblog is not None else None,
        "poll": None,
        "card": None,
        "language": note.language or None,
        "text": None,
        "application": dict(view.application) if view.application else None,
        "filtered": [],
        "favourited": view.favourited,
        "reblogged": view.reblogged,
        "muted": False,
        "bookmarked": view.bookmarked,
        "pinned": False,
        "likewise": _likewise(settings, view),
    }
