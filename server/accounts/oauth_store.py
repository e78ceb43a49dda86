"""The rows an OAuth request needs, read before Authlib runs, and its changes written after
(see server/accounts/oauth_grants.py): all in the caller's transaction."""

from __future__ import annotations

from typing import TypeVar

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from sqlalchemy import delete
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.accounts import authenticate
from server.accounts.oauth_grants import Client, OAuthRequest, Prefetched
from server.accounts.tokens import hash_token
from server.models import Account, ApiToken, OAuthApplication, OAuthCode
from server.models.base import utcnow

Row = TypeVar("Row")
MAX_PARAMETER = 2000  # longer codes, tokens or ids are none of ours: no lookup


def _param(request: OAuthRequest, name: str) -> str | None:
    value = next((v for k, v in request.params if k == name), None)
    return value if value and len(value) <= MAX_PARAMETER else None


async def prefetch(
    session: AsyncSession, request: OAuthRequest, *, password_grant: bool = False
) -> Prefetched:
    """Every row Authlib may ask for while answering `request`."""
    store = Prefetched(now=utcnow(), password_grant=password_grant)
    client_id = _param(request, "client_id") or extract_basic_authorization(request.headers)[0]
    if client_id and len(client_id) <= MAX_PARAMETER:
        found = await session.exec(
            select(OAuthApplication).where(OAuthApplication.client_id == client_id)
        )
        row = found.first()
        store.client = Client(row) if row is not None else None
    if store.client is None:
        return store
    grant_type = _param(request, "grant_type")
    if grant_type == "authorization_code" and (code := _param(request, "code")):
        store.code = await _one(session, OAuthCode, OAuthCode.code_hash == hash_token(code))
        if store.code is not None:
            store.user = await session.get(Account, store.code.account_id)
    elif grant_type == "refresh_token" and (refresh := _param(request, "refresh_token")):
        store.refresh = await _one(session, ApiToken, ApiToken.refresh_hash == hash_token(refresh))
        if store.refresh is not None and store.refresh.account_id is not None:
            store.user = await session.get(Account, store.refresh.account_id)
    elif grant_type == "password" and password_grant:
        login, password = _param(request, "username"), _param(request, "password")
        if login and password:
            store.user = await authenticate(session, login, password)
    if (token := _param(request, "token")) is not None:
        digest = hash_token(token)
        store.revocable = await _one(
            session,
            ApiToken,
            or_(col(ApiToken.token_hash) == digest, col(ApiToken.refresh_hash) == digest),
        )
    if store.user is not None and store.user.suspended_at is not None:
        store.user = None
    return store


async def _one(session: AsyncSession, model: type[Row], condition: object) -> Row | None:
    found = await session.exec(select(model).where(condition))  # type: ignore[arg-type]
    return found.first()


async def apply(session: AsyncSession, store: Prefetched) -> None:
    """Write what Authlib decided: a code given out or used up, a token issued, an old
    refresh token or a revoked token retired."""
    now = utcnow()
    if store.new_code is not None:
        session.add(store.new_code[1])
    if store.used_code is not None:
        await session.exec(delete(OAuthCode).where(col(OAuthCode.id) == store.used_code.id))
    if store.retired is not None and store.retired.revoked_at is None:
        store.retired.revoked_at = now
        store.retired.refresh_hash = None
        session.add(store.retired)
    if store.issued is not None:
        issued = store.issued
        session.add(
            ApiToken(
                account_id=issued.account_id,
                token_hash=issued.token_hash,
                refresh_hash=issued.refresh_hash,
                scopes=issued.scopes,
                application_id=issued.application_id,
                name="",
            )
        )
    # Codes are worth nothing after ten minutes: drop the stale ones on the way.
    await session.exec(delete(OAuthCode).where(col(OAuthCode.expires_at) < now))
    await session.flush()
