"""One's profile: what `update_credentials` and the profile settings page change (display
name, bio, avatar and header, up to four profile fields, locked, bot, discoverable, posting
defaults), federated at once as an Update of the actor so the followers' servers (and those
that verify rel=me links in the fields) see it."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import func, or_
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts import images
from server.accounts.images import Upload
from server.accounts.relations import actor_of_account, target
from server.db.engine import Database
from server.db.paging import Page, in_order, paged
from server.domain_errors import (
    FieldChecks,
    NotFound,
    Outcome,
    ServiceError,
    ValidationFailed,
    attempt,
)
from server.escrow.claims import announce_profile
from server.federation.remote import RemoteActors
from server.models import Account, Actor, Follow, MediaAttachment, Note
from server.models.federation import FollowState
from server.render.mastodon import (
    ACCOUNT_MEDIA_PATH,
    DEFAULT_AVATAR,
    DEFAULT_HEADER,
    profile_fields,
)
from server.render.relationships import AccountView
from server.render.statuses import StatusView
from server.settings import Settings
from server.social.follows import views_of
from server.social.interaction import is_handle, resolve_handle
from server.social.notes import text_to_html, with_applications
from server.social.timelines import status_views, viewer_of

MAX_DISPLAY_NAME = 30
MAX_NOTE = 500
MAX_FIELDS = 4
MAX_FIELD_NAME = 255
MAX_FIELD_VALUE = 255
PRIVACIES = ("public", "unlisted", "private")
LANGUAGE = re.compile(r"[a-z]{2,3}")


def image_path(name: str, default: str) -> str:
    return ACCOUNT_MEDIA_PATH + name if name else default


@dataclass(frozen=True)
class ProfileUpdate:
    """What a client asks to change; None leaves a value as it is."""

    display_name: str | None = None
    note: str | None = None
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None
    fields: tuple[tuple[str, str], ...] | None = None
    privacy: str | None = None
    sensitive: bool | None = None
    language: str | None = None
    avatar: Upload | None = None
    header: Upload | None = None


@dataclass(frozen=True)
class AccountQuery:
    text: str
    limit: int = 40
    offset: int = 0


@dataclass(frozen=True)
class StatusFilter:
    pinned: bool = False
    exclude_replies: bool = False
    only_media: bool = False
    exclude_reblogs: bool = False
    viewer_id: int | None = None  # the local account asking, if any


NOTE_ID = cast(ColumnElement[int], col(Note.id))


@dataclass(frozen=True)
class ProfileForm:
    """The profile settings page: the profile as it is (or as typed, after a refusal)."""

    username: str
    display_name: str
    note: str
    fields: list[tuple[str, str]]
    locked: bool
    discoverable: bool
    avatar: str  # a path under the instance's base URL
    header: str


def _clean_fields(fields: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    kept = [
        (name.strip(), value.strip()) for name, value in fields if name.strip() or value.strip()
    ]
    if len(kept) > MAX_FIELDS:
        raise ValidationFailed(f"at most {MAX_FIELDS} profile fields", field="fields_attributes")
    for name, value in kept:
        if len(name) > MAX_FIELD_NAME or len(value) > MAX_FIELD_VALUE:
            raise ValidationFailed(
                f"a profile field's name and value have at most {MAX_FIELD_VALUE} characters",
                field="fields_attributes",
            )
    return [{"name": name, "value": value} for name, value in kept]


def _display_name(text: str) -> str:
    name = text.strip()
    if len(name) > MAX_DISPLAY_NAME:
        raise ValidationFailed(
            f"the display name has at most {MAX_DISPLAY_NAME} characters", field="display_name"
        )
    return name


def _note(text: str) -> str:
    if len(text) > MAX_NOTE:
        raise ValidationFailed(f"the bio has at most {MAX_NOTE} characters", field="note")
    summary = text_to_html(text)
    if len(summary) > 2000:
        raise ValidationFailed("the bio is too long once written as HTML", field="note")
    return summary


def _privacy(text: str) -> str:
    if text not in PRIVACIES:
        raise ValidationFailed(
            f"source[privacy] must be one of {', '.join(PRIVACIES)}", field="source[privacy]"
        )
    return text


def _language(text: str) -> str:
    language = text.strip().lower()
    if language and not LANGUAGE.fullmatch(language):
        raise ValidationFailed("source[language] must be an ISO 639 code", field="source[language]")
    return language


def _check_update(update: ProfileUpdate) -> FieldChecks:
    """Every value of the update checked, each refusal kept (a form shows them all)."""
    checks = FieldChecks()
    for value, checker in (
        (update.display_name, _display_name),
        (update.note, _note),
        (update.fields, _clean_fields),
        (update.privacy, _privacy),
        (update.language, _language),
    ):
        if value is not None:
            checks.check(checker, value)
    return checks


def _apply_texts(account: Account, update: ProfileUpdate) -> None:
    if update.display_name is not None:
        account.display_name = _display_name(update.display_name)
    if update.note is not None:
        account.note_source, account.summary = update.note.strip(), _note(update.note)
    if update.fields is not None:
        account.fields = json.dumps(_clean_fields(update.fields), ensure_ascii=False)


def _apply_settings(account: Account, update: ProfileUpdate) -> None:
    for name in ("locked", "bot", "discoverable", "sensitive"):
        value = getattr(update, name)
        if value is not None:
            setattr(account, name, value)
    if update.privacy is not None:
        account.privacy = _privacy(update.privacy)
    if update.language is not None:
        account.language = _language(update.language)


async def _store_images(
    settings: Settings, account_id: int, update: ProfileUpdate, checks: FieldChecks
) -> dict[str, str]:
    """Check and write the new images (off the event loop); their file names. A refused
    image joins `checks`; nothing is written when any value was refused."""
    stored: dict[str, str] = {}
    for kind in ("avatar", "header"):
        upload = getattr(update, kind)
        if upload is not None:
            try:
                stored[kind] = await asyncio.to_thread(
                    images.store, settings, account_id, kind, upload
                )
            except ServiceError as error:
                checks.add(error)
    if checks.errors:
        for name in stored.values():
            images.remove(settings, name)
    checks.done()
    return stored


async def _save(
    session: AsyncSession, settings: Settings, account: Account, stored: dict[str, str]
) -> list[str]:
    """Write the account and its actor's copy of the profile; queue the Update. Returns the
    image files the new ones replace."""
    replaced = []
    for kind, name in stored.items():
        column = f"{kind}_path"
        if getattr(account, column):
            replaced.append(getattr(account, column))
        setattr(account, column, name)
    session.add(account)
    actor = await actor_of_account(session, account.id or 0)
    actor.name = account.display_name
    actor.summary = account.summary
    actor.icon_url = settings.base_url + image_path(account.avatar_path, DEFAULT_AVATAR)
    session.add(actor)
    await session.flush()
    await announce_profile(session, settings, account.id or 0)
    return replaced


async def update_profile(
    db: Database, settings: Settings, account_id: int, update: ProfileUpdate
) -> Account:
    """Change the profile (all or nothing) and federate it; the account as it now reads."""
    stored = await _store_images(settings, account_id, update, _check_update(update))
    try:
        async with db.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("no such account")
            _apply_texts(account, update)
            _apply_settings(account, update)
            replaced = await _save(session, settings, account, stored)
    except ServiceError:
        for name in stored.values():
            images.remove(settings, name)
        raise
    for name in replaced:
        images.remove(settings, name)
    return account


async def profile_form(db: Database, account_id: int) -> ProfileForm:
    async with db.session() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise NotFound("no such account")
        return ProfileForm(
            username=account.username,
            display_name=account.display_name,
            note=account.note_source,
            fields=profile_fields(account),
            locked=account.locked,
            discoverable=account.discoverable,
            avatar=image_path(account.avatar_path, DEFAULT_AVATAR),
            header=image_path(account.header_path, DEFAULT_HEADER),
        )


async def save_profile_form(
    db: Database, settings: Settings, account_id: int, update: ProfileUpdate
) -> Outcome[Account, ProfileForm]:
    """The profile page's form: saved, or refused with the page showing what was typed."""

    async def page() -> ProfileForm:
        form = await profile_form(db, account_id)
        return replace(
            form,
            display_name=update.display_name or "",
            note=update.note or "",
            fields=list(update.fields or ()),
            locked=bool(update.locked),
            discoverable=bool(update.discoverable),
        )

    return await attempt(update_profile(db, settings, account_id, update), page)


async def account_view(db: Database, ref: str) -> AccountView:
    """An account by its Mastodon id (a suspended local one is not found)."""
    async with db.session() as session:
        actor = await target(session, ref)
        view = (await views_of(session, [actor]))[0]
    if view.local is not None and view.local.suspended_at is not None:
        raise NotFound("no such account")
    return view


def _split_acct(settings: Settings, acct: str) -> tuple[str, str | None]:
    """(username, domain) of `user`, `@user`, `user@host`; domain None when local."""
    name, _, domain = acct.strip().lstrip("@").partition("@")
    if not name:
        raise ValidationFailed("acct must name an account", field="acct")
    host = domain.lower()
    local = not host or host in (settings.domain.lower(), settings.host.lower())
    return name, None if local else host


async def lookup(db: Database, settings: Settings, acct: str) -> AccountView:
    """An account by its handle, from what this instance knows (no fetching)."""
    username, domain = _split_acct(settings, acct)
    query = select(Actor).where(col(Actor.tombstoned_at).is_(None))
    if domain is None:
        query = query.join(Account, col(Account.id) == col(Actor.account_id)).where(
            Account.username == username.lower(), col(Account.suspended_at).is_(None)
        )
    else:
        query = query.where(
            func.lower(Actor.username) == username.lower(),
            Actor.domain == domain,
            col(Actor.is_local).is_(False),
        )
    async with db.session() as session:
        actor = (await session.exec(query)).first()
        if actor is None:
            raise NotFound(f"no account {acct!r} is known here")
        return (await views_of(session, [actor]))[0]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def search(db: Database, query: AccountQuery) -> list[AccountView]:
    """Accounts whose handle or name starts with the query: local ones first."""
    name, _, domain = query.text.strip().lstrip("@").partition("@")
    if not name:
        return []
    pattern = _like(name.lower())
    found = select(Actor).where(col(Actor.tombstoned_at).is_(None))
    found = found.join(Account, col(Account.id) == col(Actor.account_id), isouter=True)
    found = found.where(
        col(Account.suspended_at).is_(None),
        func.lower(Actor.username).like(pattern, escape="\\")
        | func.lower(Actor.name).like(pattern, escape="\\"),
    )
    if domain:
        found = found.where(func.lower(Actor.domain).like(_like(domain.lower()), escape="\\"))
    found = found.where(col(Actor.is_local).is_(False) | col(Actor.account_id).is_not(None))
    found = found.order_by(col(Actor.is_local).desc(), col(Actor.id))
    async with db.session() as session:
        rows = await session.exec(found.offset(query.offset).limit(query.limit))
        return await views_of(session, list(rows.all()))


async def search_accounts(
    db: Database, remote: RemoteActors, query: AccountQuery, *, resolve: bool
) -> list[AccountView]:
    """With `resolve`, a full handle is looked up on its server (WebFinger)."""
    if resolve and is_handle(query.text.strip().lstrip("@")) and query.offset == 0:
        try:
            actor = await resolve_handle(remote, query.text.strip().lstrip("@"))
        except NotFound:
            return []  # as Mastodon answers: no such account, an empty list
        async with db.session() as session:
            return await views_of(session, [actor])
    return await search(db, query)


def _statuses_query(author: Actor, viewer: Actor | None, wanted: StatusFilter) -> Any:
    shown: ColumnElement[bool] = col(Note.visibility).in_(("public", "unlisted"))
    if viewer is not None:
        followed = select(Follow.followee_id).where(
            Follow.follower_id == viewer.id, Follow.state == FollowState.accepted
        )
        shown = or_(
            shown,
            col(Note.author_id) == viewer.id,
            (col(Note.visibility) == "private") & col(Note.author_id).in_(followed),
        )
    query = select(Note).where(Note.author_id == author.id, col(Note.deleted_at).is_(None), shown)
    if wanted.exclude_replies:
        query = query.where(Note.in_reply_to == "")
    if wanted.exclude_reblogs:
        query = query.where(col(Note.reblog_of_id).is_(None))
    if wanted.only_media:
        with_media = select(MediaAttachment.note_id).where(
            col(MediaAttachment.note_id).is_not(None)
        )
        query = query.where(col(Note.id).in_(with_media))
    return query


async def statuses_of(
    db: Database, settings: Settings, ref: str, wanted: StatusFilter, page: Page
) -> list[StatusView]:
    """An account's statuses and reblogs the viewer may read, newest first, rendered as
    the timelines render theirs (pinned: none are)."""
    async with db.session() as session:
        author = await target(session, ref)
        if wanted.pinned:
            return []
        viewer = await viewer_of(session, wanted.viewer_id)
        mine = await actor_of_account(session, wanted.viewer_id) if wanted.viewer_id else None
        query = paged(_statuses_query(author, mine, wanted), NOTE_ID, page)
        notes = in_order(list((await session.exec(query)).all()), page)
        views = await status_views(session, settings, notes, viewer)
        return await with_applications(session, views, viewer.account_id)
