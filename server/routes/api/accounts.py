"""Mastodon-shaped account routes (the rest of the client API grows beside these)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import current_user, require_scope
from server.models import Account
from server.render.mastodon import render_account
from server.services.errors import Unauthorized


@require_scope("read:accounts")
async def verify_credentials(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    async with request.app.state.db.session() as session:
        account = await session.get(Account, user.id)
    if account is None:
        raise Unauthorized("the account is gone")
    return JSONResponse(render_account(request.app.state.settings, account, source=True))


routes = [
    Route("/api/v1/accounts/verify_credentials", verify_credentials, methods=["GET"]),
]
