"""Who is asking: a bearer token or the browser session; scopes; CSRF for forms.

A browser session is a row (server.accounts.sessions) named by a random key in the signed
cookie, so logging out ends it for every copy of the cookie.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from server.accounts.sessions import end_session, resolve_session, start_session
from server.accounts.tokens import resolve_bearer, scope_allows, touch_token
from server.context import context
from server.db.engine import Database
from server.domain_errors import Forbidden, Unauthorized, ValidationFailed
from server.models import Account
from server.text_checks import holds_nul

SESSION_SCOPES = frozenset({"read", "write", "follow", "push", "profile"})
ADMIN_SCOPES = frozenset({"admin:read", "admin:write"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths that read their own bearer secret rather than an account token
# (the OAuth endpoints take an app's client secret by HTTP Basic).
OWN_TOKEN_PATHS = frozenset({"/metrics", "/oauth/token", "/oauth/revoke"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_KEY = "key"  # the cookie's entry naming its session row
LEGACY_SESSION_KEY = "account_id"  # cookies from before sessions were rows: no longer honoured
ACCOUNT_KEY = "likewise.account"  # the authenticated Account row, read once a request
ACTOR_KEY = "likewise.actor"  # a token's account's actor (id, URI), read with the account


class AccountUser(BaseUser):
    def __init__(
        self,
        account_id: int,
        username: str,
        is_admin: bool,
        via: str,
        session_id: int | None = None,
        application_id: int | None = None,
    ) -> None:
        self.id = account_id
        self.username = username
        self.is_admin = is_admin
        self.via = via
        self.session_id = session_id  # the web_session row, for "via" == "session"
        self.application_id = application_id  # the OAuth app the token was issued to

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username


class ApplicationUser(BaseUser):
    """An OAuth application's own token (client_credentials): no account behind it, so
    only app-level endpoints (apps/verify_credentials, signing up) answer it."""

    def __init__(self, application_id: int) -> None:
        self.application_id = application_id

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""


class AuthBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization", "")
        db: Database = context(conn).db
        if header and conn.url.path not in OWN_TOKEN_PATHS:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
            async with db.reading(bounded=True) as session:
                bearer = await resolve_bearer(session, token.strip())
            if bearer is None:
                raise AuthenticationError("the access token is invalid or revoked")
            grant, account = bearer.grant, bearer.account
            if grant.stale:
                async with db.transaction() as session:
                    await touch_token(session, grant)
            if grant.account_id is None and grant.application_id:
                return AuthCredentials(list(grant.scopes)), ApplicationUser(grant.application_id)
            if account is None or account.suspended_at is not None:
                raise AuthenticationError("the access token is invalid or revoked")
            conn.scope[ACCOUNT_KEY] = account
            conn.scope[ACTOR_KEY] = bearer.actor
            return AuthCredentials(list(grant.scopes)), AccountUser(
                account.id or 0,
                account.username,
                account.is_admin,
                "token",
                None,
                grant.application_id,
            )
        key = conn.session.get(SESSION_KEY) if "session" in conn.scope else None
        if not isinstance(key, str):
            if "session" in conn.scope:
                conn.session.pop(LEGACY_SESSION_KEY, None)
            return None
        async with db.transaction() as session:
            live = await resolve_session(session, key)
        if live is None:
            conn.session.clear()  # ended, expired or suspended: the cookie is worth nothing
            return None
        account = live.account
        conn.scope[ACCOUNT_KEY] = account
        scopes = SESSION_SCOPES | (ADMIN_SCOPES if account.is_admin else frozenset())
        return AuthCredentials(list(scopes)), AccountUser(
            live.account_id, account.username, account.is_admin, "session", live.id
        )


def current_actor(request: HTTPConnection) -> tuple[int, str] | None:
    """The (id, URI) of the actor of the token's account, when authentication read it."""
    user = current_user(request)
    found = request.scope.get(ACTOR_KEY)
    return found if user is not None and user.via == "token" and found is not None else None


def current_user(request: HTTPConnection) -> AccountUser | None:
    user = request.scope.get("user")
    return user if isinstance(user, AccountUser) else None


def current_application(request: HTTPConnection) -> int | None:
    """The OAuth application behind the request's token, with or without an account."""
    user = request.scope.get("user")
    if isinstance(user, AccountUser | ApplicationUser):
        return user.application_id
    return None


async def current_account(request: HTTPConnection, message: str = "log in first") -> Account:
    """The logged-in user's Account row, or Unauthorized with `message`."""
    user = current_user(request)
    if user is not None:
        known = request.scope.get(ACCOUNT_KEY)
        if isinstance(known, Account) and known.id == user.id:
            return known
        db: Database = context(request).db
        async with db.reading(bounded=True) as session:
            account = await session.get(Account, user.id)
        if account is not None:
            return account
    raise Unauthorized(message)


def csrf_token(request: HTTPConnection) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _csrf_matches(request: HTTPConnection, presented: object) -> bool:
    expected = request.session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(presented, str)
        and hmac.compare_digest(expected.encode(), presented.encode())
    )


async def checked_form(request: Request) -> FormData:
    """The submitted form, after its CSRF token was checked against the session. A bearer
    token is no ambient credential (no other site can make a browser send it): no check."""
    form = await request.form()
    refuse_nul(form)
    user = current_user(request)
    if user is not None and user.via == "token":
        return form
    if not _csrf_matches(request, form.get(CSRF_FIELD)):
        raise Forbidden("the form expired or came from another site; reload the page and retry")
    return form


def refuse_nul(form: FormData) -> None:
    """No text a person types holds a NUL character, and PostgreSQL refuses one (a 500)."""
    for name, value in form.multi_items():
        if isinstance(value, str) and holds_nul(value):
            raise ValidationFailed("the form holds a NUL character", field=name)


Endpoint = Callable[[Request], Awaitable[Response]]


def require_scope(scope: str) -> Callable[[Endpoint], Endpoint]:
    """API guard: 401 without credentials; 403 without the scope or (cookies) the CSRF header."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = current_user(request)
            if user is None:
                raise Unauthorized("this needs a logged-in user or a bearer token")
            if not _scoped(request, scope):
                raise Forbidden(f"this needs the scope {scope!r}")
            if user.via == "session" and request.method in UNSAFE_METHODS:
                if not _csrf_matches(request, request.headers.get(CSRF_HEADER)):
                    raise Forbidden("browser requests need the X-CSRF-Token header")
            return await endpoint(request)

        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate


# Mastodon's `profile` scope reads the token's own account and nothing more.
PROFILE_PATHS = frozenset({"/api/v1/accounts/verify_credentials"})


def _scoped(request: Request, scope: str) -> bool:
    granted = frozenset(request.auth.scopes)
    if scope_allows(granted, scope):
        return True
    return "profile" in granted and request.url.path in PROFILE_PATHS and request.method == "GET"


def require_application(scope: str) -> Callable[[Endpoint], Endpoint]:
    """App-level API guard: a token issued to an OAuth application (its own, or a user's)
    holding `scope` (any scope when empty); 401 without one."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            if current_application(request) is None:
                raise Unauthorized("this needs an application's access token")
            if scope and not scope_allows(frozenset(request.auth.scopes), scope):
                raise Forbidden(f"this needs the scope {scope!r}")
            return await endpoint(request)

        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate


def require_admin(request: HTTPConnection) -> AccountUser:
    """Admin pages and their forms: an admin, and for a token `admin:read` to read and
    `admin:write` to change (an admin's browser session holds both)."""
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    if not user.is_admin:
        raise Forbidden("this is for instance admins")
    method = request.scope.get("method", "GET")
    needed = "admin:write" if method in UNSAFE_METHODS else "admin:read"
    if not scope_allows(frozenset(request.auth.scopes), needed):
        raise Forbidden(f"this needs the scope {needed!r}")
    return user


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    from server.errors import error_response

    return error_response(conn, 401, str(exc), code="unauthorized")


async def login_session(request: Request, account_id: int) -> None:
    """Start a session row for the account and put its key in the cookie; a session the
    cookie held before ends (no one keeps a key from before the log-in)."""
    db: Database = context(request).db
    previous = request.session.get(SESSION_KEY)
    async with db.transaction() as session:
        if isinstance(previous, str):
            await end_session(session, previous)
        key = await start_session(session, account_id, request.headers.get("user-agent", ""))
    request.session.clear()
    request.session[SESSION_KEY] = key
    request.session["csrf"] = secrets.token_urlsafe(32)


async def logout_session(request: Request) -> None:
    """End the cookie's session row (every copy of the cookie stops working) and empty it."""
    key = request.session.get(SESSION_KEY)
    if isinstance(key, str):
        db: Database = context(request).db
        async with db.transaction() as session:
            await end_session(session, key)
    request.session.clear()
