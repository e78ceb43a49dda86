"""Mastodon-shaped account routes (the rest of the client API grows beside these), and the
account's browser sessions: list them, end them all ("log out everywhere")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.accounts import own
from server.auth import AccountUser, current_account, current_user, require_scope
from server.context import context
from server.domain_errors import Unauthorized
from server.render.mastodon import render_account

SESSIONS = "/api/v1/likewise/sessions"


@require_scope("read:accounts")
async def verify_credentials(request: Request) -> Response:
    account = await current_account(request)
    return JSONResponse(render_account(context(request).settings, account, source=True))


def _user(request: Request) -> AccountUser:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user


@require_scope("read:accounts")
async def sessions(request: Request) -> Response:
    user = _user(request)
    found = await own.sessions_of(context(request).db, user.id)
    return JSONResponse(
        [
            {
                "id": str(view.id),
                "user_agent": view.user_agent,
                "created_at": view.created_at.isoformat(),
                "last_seen_at": view.last_seen_at.isoformat(),
                "current": view.id == user.session_id,
            }
            for view in found
        ]
    )


@require_scope("write:accounts")
async def end_all_sessions(request: Request) -> Response:
    """Log out everywhere: every browser session of the account ends (tokens stay)."""
    user = _user(request)
    ended = await own.end_all_sessions(context(request).db, user.id)
    if user.via == "session":
        request.session.clear()
    return JSONResponse({"ended": ended})


routes = [
    Route("/api/v1/accounts/verify_credentials", verify_credentials, methods=["GET"]),
    Route(SESSIONS, sessions, methods=["GET"]),
    Route(SESSIONS, end_all_sessions, methods=["DELETE"]),
]
