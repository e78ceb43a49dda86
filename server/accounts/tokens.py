"""Access tokens: personal ones (shown once) and those OAuth issues to applications, all
stored as SHA-256 hashes; Mastodon's scopes and what each one grants."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import NotFound, ValidationFailed
from server.models import Account, ApiToken
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
    # A write per request would be costly; ten minutes' precision is enough for people.
    stale = row.last_used_at is None or utcnow() - row.last_used_at > timedelta(minutes=10)
    scopes = frozenset(row.scopes.split())
    return Grant(row.account_id, scopes, row.application_id, row.id, stale)


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
