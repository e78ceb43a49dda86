"""Browser sessions as rows: the signed cookie carries a random key, the row says whose it
is and whether it still holds. Logging out, "log out everywhere" and a password change end
rows, so a copied cookie stops working at once (the cookie alone would hold for 14 days)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import Account, WebSession
from server.models.base import utcnow

SESSION_DAYS = 14  # as the cookie: a session unused this long ends
MAX_SESSION_AGE = timedelta(days=SESSION_DAYS)
# A write per request would be costly; knowing the last use to ten minutes is enough.
LAST_SEEN_PRECISION = timedelta(minutes=10)
MAX_USER_AGENT = 255


@dataclass(frozen=True)
class LiveSession:
    id: int
    account_id: int
    account: Account


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def start_session(session: AsyncSession, account_id: int, user_agent: str = "") -> str:
    """A new session of the account; returns the key for the cookie (shown nowhere else).
    The account's ended and long-unused rows are dropped on the way."""
    now = utcnow()
    await session.exec(
        delete(WebSession).where(
            col(WebSession.account_id) == account_id,
            or_(
                col(WebSession.revoked_at).is_not(None),
                col(WebSession.last_seen_at) < now - MAX_SESSION_AGE,
            ),
        )
    )
    key = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            account_id=account_id,
            key_hash=_hash(key),
            user_agent=user_agent[:MAX_USER_AGENT],
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return key


async def resolve_session(session: AsyncSession, key: str) -> LiveSession | None:
    """The session of this cookie key and its account, if neither ended nor suspended."""
    result = await session.exec(
        select(WebSession, Account)
        .join(Account, col(Account.id) == col(WebSession.account_id))
        .where(WebSession.key_hash == _hash(key))
    )
    found = result.first()
    if found is None:
        return None
    row, account = found
    now = utcnow()
    if row.revoked_at is not None or now - row.last_seen_at > MAX_SESSION_AGE:
        return None
    if account.suspended_at is not None or row.id is None:
        return None
    if now - row.last_seen_at > LAST_SEEN_PRECISION:
        row.last_seen_at = now
        session.add(row)
    return LiveSession(row.id, row.account_id, account)


async def end_session(session: AsyncSession, key: str) -> None:
    await session.exec(
        update(WebSession)
        .where(col(WebSession.key_hash) == _hash(key), col(WebSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


async def end_sessions(
    session: AsyncSession, account_id: int, *, keep_id: int | None = None
) -> int:
    """End every live session of the account, but `keep_id`; returns how many ended."""
    statement = update(WebSession).where(
        col(WebSession.account_id) == account_id, col(WebSession.revoked_at).is_(None)
    )
    if keep_id is not None:
        statement = statement.where(col(WebSession.id) != keep_id)
    result = await session.exec(statement.values(revoked_at=utcnow()))
    return int(result.rowcount)


@dataclass(frozen=True)
class SessionView:
    id: int
    user_agent: str
    created_at: datetime
    last_seen_at: datetime


async def live_sessions(session: AsyncSession, account_id: int) -> Sequence[SessionView]:
    """The account's sessions that still hold, last used first."""
    result = await session.exec(
        select(WebSession)
        .where(
            WebSession.account_id == account_id,
            col(WebSession.revoked_at).is_(None),
            col(WebSession.last_seen_at) >= utcnow() - MAX_SESSION_AGE,
        )
        .order_by(col(WebSession.last_seen_at).desc(), col(WebSession.id).desc())
    )
    return [
        SessionView(row.id or 0, row.user_agent, row.created_at, row.last_seen_at)
        for row in result.all()
    ]
