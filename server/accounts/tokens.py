"""Access tokens: personal ones (shown once) and those OAuth issues to applications, all
stored as SHA-256 hashes; Mastodon's scopes and what each one grants."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import NotFound, ValidationFailed
from server.models import Account, Actor, ApiToken
from server.models.base import utcnow

# Mastodon's scopes: the top-level ones, and the granular ones that `read`, `write` and
# `admin:*` stand for ("read" grants "read:statuses", and so on).
TOP_SCOPES = ("read", "write", "follow", "push", "profile")
GRANULAR_SCOPES = (
    *(
        f"read:{name}"
        for name in (
            "accounts blocks bookmarks favourites filters follows lists mutes notifications "
            "search statuses"
        ).split()
    ),
    *(
        f"write:{name}"
        for name in (
            "accounts blocks bookmarks conversations favourites filters follows lists media "
            "mutes notifications reports statuses"
        ).split()
    ),
)
ADMIN_SCOPE_NAMES = ("admin:read", "admin:write")
KNOWN_SCOPES = frozenset({*TOP_SCOPES, *GRANULAR_SCOPES, *ADMIN_SCOPE_NAMES})
SCOPE_FAMILIES = ("read", "write", "admin:read", "admin:write")
# Mastodon's legacy `follow` scope: following, blocking and muting, both ways.
FOLLOW_GRANTS = frozenset(
    f"{way}:{what}" for way in ("read", "write") for what in ("follows", "blocks", "mutes")
)
TOKEN_PREVIEW = 6  # leading characters of a personal token kept for its owner's list


@dataclass(frozen=True)
class Grant:
    account_id: int | None  # None: an application's own token
    scopes: frozenset[str]
    application_id: int | None = None
    token_id: int | None = None
    stale: bool = False  # last_used_at is due to be written again (touch_token)


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    scopes: str
    created_at: datetime
    last_used_at: datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def parse_scopes(scopes: str) -> frozenset[str]:
    parsed = frozenset(scopes.replace(",", " ").split())
    for scope in parsed:
        family = scope.split(":")[0]
        if scope not in KNOWN_SCOPES and family not in ("read", "write", "admin"):
            raise ValidationFailed(f"unknown scope {scope!r}", field="scopes")
    if not parsed:
        raise ValidationFailed("at least one scope is needed", field="scopes")
    return parsed


def scope_allows(granted: frozenset[str], needed: str) -> bool:
    if needed in granted:
        return True
    if needed in FOLLOW_GRANTS and "follow" in granted:
        return True
    return any(needed.startswith(family + ":") and family in granted for family in SCOPE_FAMILIES)


def scopes_within(requested: frozenset[str], allowed: frozenset[str]) -> bool:
    """Every requested scope is one that `allowed` holds or grants."""
    return all(scope_allows(allowed, scope) for scope in requested)


async def create_token(
    session: AsyncSession, account: Account, scopes: str = "read write", name: str = ""
) -> str:
    if account.id is None:
        raise ValidationFailed("account is not saved yet")
    parsed = parse_scopes(scopes)
    if any(s.startswith("admin") for s in parsed) and not account.is_admin:
        raise ValidationFailed("admin scopes need an admin account", field="scopes")
    token = new_secret()
    session.add(
        ApiToken(
            account_id=account.id,
            token_hash=hash_token(token),
            name=name,
            scopes=" ".join(sorted(parsed)),
        )
    )
    await session.flush()
    return token


async def resolve_token(session: AsyncSession, token: str) -> Grant | None:
    """What a bearer token grants, read only: every API request asks, and on SQLite a
    write transaction a request would queue them all behind one write lock."""
    result = await session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    row = result.first()
    if row is None or row.revoked_at is not None:
        return None
    scopes = frozenset(row.scopes.split())
    return Grant(row.account_id, scopes, row.application_id, row.id, _stale(row.last_used_at))


@dataclass(frozen=True)
class Bearer:
    """What a bearer token grants, with its account and that account's actor (id, URI)."""

    grant: Grant
    account: Account | None
    actor: tuple[int, str] | None


TOKEN_HASH = bindparam("token_hash", type_=String)


@functools.cache
def _bearer_query() -> Any:
    """Built once: building it cost more than running it."""
    return (
        sa_select(
            col(ApiToken.id),
            col(ApiToken.account_id),
            col(ApiToken.scopes),
            col(ApiToken.application_id),
            col(ApiToken.last_used_at),
            col(ApiToken.revoked_at),
            Account,
            col(Actor.id),
            col(Actor.uri),
        )
        .outerjoin(Account, col(Account.id) == col(ApiToken.account_id))
        .outerjoin(Actor, col(Actor.account_id) == col(Account.id))
        .where(col(ApiToken.token_hash) == TOKEN_HASH)
    )


async def resolve_bearer(session: AsyncSession, token: str) -> Bearer | None:
    """`resolve_token`, the account and its actor in one query: every API request asks."""
    rows = await session.exec(_bearer_query(), params={"token_hash": hash_token(token)})
    row = rows.first()
    if row is None:
        return None
    token_id, account_id, scopes, application_id, last_used_at, revoked_at = row[:6]
    account, actor_id, actor_uri = row[6:]
    if revoked_at is not None:
        return None
    grant = Grant(
        account_id, frozenset(scopes.split()), application_id, token_id, _stale(last_used_at)
    )
    return Bearer(grant, account, (actor_id, actor_uri) if actor_id is not None else None)


def _stale(last_used_at: datetime | None) -> bool:
    # A write per request would be costly; ten minutes' precision is enough for people.
    return last_used_at is None or utcnow() - last_used_at > timedelta(minutes=10)


async def touch_token(session: AsyncSession, grant: Grant) -> None:
    """Note that the token was used now (when `resolve_token` found it stale)."""
    if grant.stale and grant.token_id is not None:
        await session.exec(
            update(ApiToken).where(col(ApiToken.id) == grant.token_id).values(last_used_at=utcnow())
        )


async def personal_tokens(session: AsyncSession, account_id: int) -> Sequence[TokenView]:
    """The account's live personal access tokens, newest first."""
    rows = await session.exec(
        select(ApiToken)
        .where(
            ApiToken.account_id == account_id,
            col(ApiToken.application_id).is_(None),
            col(ApiToken.revoked_at).is_(None),
        )
        .order_by(col(ApiToken.id).desc())
    )
    return [
        TokenView(int(row.id or 0), row.name, row.scopes, row.created_at, row.last_used_at)
        for row in rows
    ]


async def revoke_personal_token(session: AsyncSession, account_id: int, token_id: int) -> None:
    row = await session.get(ApiToken, token_id)
    if row is None or row.account_id != account_id or row.revoked_at is not None:
        raise NotFound("no such token")
    row.revoked_at = utcnow()
    session.add(row)
