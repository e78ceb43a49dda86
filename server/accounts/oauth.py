"""OAuth 2 as Mastodon serves it: apps register, people authorize them, tokens are issued,
refreshed and revoked. Authlib validates (server/accounts/oauth_grants.py) over rows read
first (server/accounts/oauth_store.py); each function here owns its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from sqlalchemy import func, update
from sqlmodel import col, select

from server.accounts import oauth_store
from server.accounts.oauth_grants import OOB, OAuthAnswer, OAuthRequest, Server, scope_set
from server.accounts.tokens import KNOWN_SCOPES, hash_token, new_secret
from server.db.engine import Database
from server.domain_errors import NotFound, ValidationFailed
from server.models import Account, ApiToken, OAuthApplication
from server.models.base import utcnow

MAX_NAME = 200
MAX_WEBSITE = 2000
MAX_REDIRECTS = 4000
MAX_REDIRECT = 2000


@dataclass(frozen=True)
class NewApplication:
    name: str
    redirect_uris: Sequence[str]
    scopes: str = "read"
    website: str = ""


@dataclass(frozen=True)
class RegisteredApp:
    application: OAuthApplication
    client_secret: str | None  # shown once, when the app registers


@dataclass(frozen=True)
class Consent:
    """What the consent page shows, or the answer instead of it (an error)."""

    app_name: str = ""
    website: str = ""
    scopes: Sequence[str] = ()
    answer: OAuthAnswer | None = None


@dataclass(frozen=True)
class Decision:
    answer: OAuthAnswer
    oob_code: str | None = None  # the code to show on a page instead of a redirect


@dataclass(frozen=True)
class AuthorizedApp:
    id: int
    name: str
    website: str
    scopes: str
    authorized_at: datetime


def _redirect_uris(given: Sequence[str]) -> list[str]:
    uris = [uri.strip() for part in given for uri in part.split() if uri.strip()]
    if not uris:
        raise ValidationFailed("redirect_uris can't be blank", field="redirect_uris")
    for uri in uris:
        parts = urlsplit(uri)
        if uri != OOB and (not parts.scheme or parts.fragment or not (parts.netloc or parts.path)):
            raise ValidationFailed(f"{uri!r} is not an absolute URI", field="redirect_uris")
        if len(uri) > MAX_REDIRECT:  # a code row keeps it
            raise ValidationFailed("a redirect URI is too long", field="redirect_uris")
    if len("\n".join(uris)) > MAX_REDIRECTS:
        raise ValidationFailed("redirect_uris is too long", field="redirect_uris")
    return uris


async def register_application(db: Database, new: NewApplication) -> RegisteredApp:
    name = new.name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(f"client_name must be 1-{MAX_NAME} characters", field="client_name")
    scopes = scope_set(new.scopes) or scope_set("read")
    if not scopes <= KNOWN_SCOPES:
        unknown = sorted(scopes - KNOWN_SCOPES)[0]
        raise ValidationFailed(f"unknown scope {unknown!r}", field="scopes")
    if len(new.website) > MAX_WEBSITE:
        raise ValidationFailed("website is too long", field="website")
    secret = new_secret()
    row = OAuthApplication(
        client_id=new_secret(),
        secret_hash=hash_token(secret),
        name=name,
        website=new.website.strip(),
        redirect_uris="\n".join(_redirect_uris(new.redirect_uris)),
        scopes=" ".join(sorted(scopes)),
    )
    async with db.transaction() as session:
        session.add(row)
        await session.flush()
        await session.refresh(row)
    return RegisteredApp(row, secret)


async def application(db: Database, application_id: int | None) -> OAuthApplication:
    """The application a token was issued to."""
    async with db.session() as session:
        row = await session.get(OAuthApplication, application_id) if application_id else None
    if row is None:
        raise NotFound("this token belongs to no application")
    return row


def _error(error: OAuth2Error, server: Server) -> OAuthAnswer:
    answer: OAuthAnswer = server.handle_error_response(None, error)
    return answer


async def consent(db: Database, request: OAuthRequest) -> Consent:
    """Validate an authorization request for the consent page."""
    async with db.session() as session:
        store = await oauth_store.prefetch(session, request)
    server = Server(store)
    try:
        grant = server.get_consent_grant(request)
    except OAuth2Error as error:
        return Consent(answer=_error(error, server))
    client = store.client
    if client is None:  # Authlib refused it above; mypy does not know
        raise NotFound("no such application")
    return Consent(
        client.row.name, client.row.website, sorted(scope_set(grant.request.scope)), None
    )


async def decide(db: Database, request: OAuthRequest, account_id: int, approve: bool) -> Decision:
    """The person approved or denied: a redirect with a code or `access_denied`."""
    async with db.transaction() as session:
        store = await oauth_store.prefetch(session, request)
        server = Server(store)
        try:
            grant = server.get_consent_grant(request)
        except OAuth2Error as error:
            return Decision(_error(error, server))
        user = await session.get(Account, account_id) if approve else None
        answer: OAuthAnswer = server.create_authorization_response(
            grant.request, grant_user=user, grant=grant
        )
        await oauth_store.apply(session, store)
    if store.new_code is not None and store.new_code[1].redirect_uri == OOB:
        return Decision(answer, store.new_code[0])
    return Decision(answer)


async def token(db: Database, request: OAuthRequest, *, password_grant: bool) -> OAuthAnswer:
    """POST /oauth/token: every grant; stored changes only when a token was issued."""
    async with db.transaction() as session:
        store = await oauth_store.prefetch(session, request, password_grant=password_grant)
        answer: OAuthAnswer = Server(store).create_token_response(request)
        if answer.status == 200:
            await oauth_store.apply(session, store)
    return answer


async def revoke(db: Database, request: OAuthRequest) -> OAuthAnswer:
    async with db.transaction() as session:
        store = await oauth_store.prefetch(session, request)
        answer: OAuthAnswer = Server(store).create_endpoint_response("revocation", request)
        if answer.status == 200:
            await oauth_store.apply(session, store)
    return answer


async def authorized_apps(db: Database, account_id: int) -> Sequence[AuthorizedApp]:
    """The applications holding a live token of the account, first authorized first."""
    async with db.session() as session:
        rows = await session.exec(
            select(OAuthApplication, func.min(ApiToken.created_at))
            .join(ApiToken, col(ApiToken.application_id) == OAuthApplication.id)
            .where(ApiToken.account_id == account_id, col(ApiToken.revoked_at).is_(None))
            .group_by(col(OAuthApplication.id))
            .order_by(func.min(ApiToken.created_at))
        )
        found = list(rows)
    scopes = await _granted_scopes(db, account_id)
    return [
        AuthorizedApp(int(app.id or 0), app.name, app.website, scopes.get(app.id or 0, ""), at)
        for app, at in found
    ]


async def _granted_scopes(db: Database, account_id: int) -> dict[int, str]:
    async with db.session() as session:
        rows = await session.exec(
            select(ApiToken.application_id, ApiToken.scopes).where(
                ApiToken.account_id == account_id, col(ApiToken.revoked_at).is_(None)
            )
        )
        granted: dict[int, set[str]] = {}
        for app_id, scopes in rows:
            if app_id is not None:
                granted.setdefault(app_id, set()).update(scopes.split())
    return {app_id: " ".join(sorted(scopes)) for app_id, scopes in granted.items()}


async def revoke_application(db: Database, account_id: int, application_id: int) -> int:
    """End every token the account gave the application: how many."""
    async with db.transaction() as session:
        result = await session.exec(
            update(ApiToken)
            .where(
                col(ApiToken.account_id) == account_id,
                col(ApiToken.application_id) == application_id,
                col(ApiToken.revoked_at).is_(None),
            )
            .values(revoked_at=utcnow(), refresh_hash=None)
        )
    ended = int(result.rowcount)
    if not ended:
        raise NotFound("that application holds no access to your account")
    return ended
