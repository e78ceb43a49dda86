"""Personal access tokens: shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import ValidationFailed
from server.models import Account, ApiToken
from server.models.base import utcnow

# Mastodon's top-level scopes; "read" also grants "read:*" and so on.
KNOWN_SCOPES = frozenset(
    {"read", "write", "follow", "push", "profile", "admin:read", "admin:write"}
)
SCOPE_FAMILIES = ("read", "write", "admin:read", "admin:write")


@dataclass(frozen=True)
class Grant:
    account_id: int
    scopes: frozenset[str]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    return any(needed.startswith(family + ":") and family in granted for family in SCOPE_FAMILIES)


async def create_token(
    session: AsyncSession, account: Account, scopes: str = "read write", name: str = ""
) -> str:
    if account.id is None:
        raise ValidationFailed("account is not saved yet")
    parsed = parse_scopes(scopes)
    if any(s.startswith("admin") for s in parsed) and not account.is_admin:
        raise ValidationFailed("admin scopes need an admin account", field="scopes")
    token = secrets.token_urlsafe(32)
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
    result = await session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    row = result.first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    # A write per request would be costly; minute precision is enough for admins.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=10):
        row.last_used_at = now
        session.add(row)
    return Grant(row.account_id, frozenset(row.scopes.split()))
