"""Who is asking: a bearer token or the browser session; scopes; CSRF for forms."""

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

from server.db import Database
from server.models import Account
from server.services.errors import Forbidden, Unauthorized
from server.services.tokens import resolve_token, scope_allows

SESSION_SCOPES = frozenset({"read", "write", "follow", "push", "profile"})
ADMIN_SCOPES = frozenset({"admin:read", "admin:write"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths that read their own bearer secret rather than an account token.
OWN_TOKEN_PATHS = frozenset({"/metrics"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class AccountUser(BaseUser):
    def __init__(self, account_id: int, username: str, is_admin: bool, via: str) -> None:
        self.id = account_id
        self.username = username
        self.is_admin = is_admin
        self.via = via

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username


class AnonymousUser(BaseUser):
    @property
    def is_authenticated(self) -> bool:
        return False


class AuthBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization", "")
        db: Database = conn.app.state.db
        if header and conn.url.path not in OWN_TOKEN_PATHS:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
            async with db.transaction() as session:
                grant = await resolve_token(session, token.strip())
                account = await session.get(Account, grant.account_id) if grant else None
            if grant is None or account is None or account.suspended_at is not None:
                raise AuthenticationError("the access token is invalid or revoked")
            return AuthCredentials(list(grant.scopes)), AccountUser(
                grant.account_id, account.username, account.is_admin, "token"
            )
        account_id = conn.session.get("account_id") if "session" in conn.scope else None
        if not isinstance(account_id, int):
            return None
        async with db.session() as session:
            account = await session.get(Account, account_id)
        if account is None or account.suspended_at is not None:
            conn.session.clear()
            return None
        scopes = SESSION_SCOPES | (ADMIN_SCOPES if account.is_admin else frozenset())
        return AuthCredentials(list(scopes)), AccountUser(
            account_id, account.username, account.is_admin, "session"
        )


def current_user(request: HTTPConnection) -> AccountUser | None:
    user = request.scope.get("user")
    return user if isinstance(user, AccountUser) else None


async def current_account(request: HTTPConnection, message: str = "log in first") -> Account:
    """The logged-in user's Account row, or Unauthorized with `message`."""
    user = current_user(request)
    if user is not None:
        db: Database = request.app.state.db
        async with db.session() as session:
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
    """The submitted form, after its CSRF token was checked against the session."""
    form = await request.form()
    if not _csrf_matches(request, form.get(CSRF_FIELD)):
        raise Forbidden("the form expired or came from another site; reload the page and retry")
    return form


Endpoint = Callable[[Request], Awaitable[Response]]


def require_scope(scope: str) -> Callable[[Endpoint], Endpoint]:
    """API guard: 401 without credentials; 403 without the scope or (cookies) the CSRF header."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = current_user(request)
            if user is None:
                raise Unauthorized("this needs a logged-in user or a bearer token")
            if not scope_allows(frozenset(request.auth.scopes), scope):
                raise Forbidden(f"this needs the scope {scope!r}")
            if user.via == "session" and request.method in UNSAFE_METHODS:
                if not _csrf_matches(request, request.headers.get(CSRF_HEADER)):
                    raise Forbidden("browser requests need the X-CSRF-Token header")
            return await endpoint(request)

        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate


def require_admin(request: HTTPConnection) -> AccountUser:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    if not user.is_admin:
        raise Forbidden("this is for instance admins")
    return user


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    from server.errors import error_response

    return error_response(conn, 401, str(exc), code="unauthorized")


def login_session(request: Request, account_id: int) -> None:
    request.session.clear()
    request.session["account_id"] = account_id
    request.session["csrf"] = secrets.token_urlsafe(32)
