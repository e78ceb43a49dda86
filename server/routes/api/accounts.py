"""Mastodon-shaped account routes (the rest of the client API grows beside these)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import current_account, require_scope
from server.render.mastodon import render_account


@require_scope("read:accounts")
async def verify_credentials(request: Request) -> Response:
    account = await current_account(request)
    return JSONResponse(render_account(request.app.state.settings, account, source=True))


routes = [
    Route("/api/v1/accounts/verify_credentials", verify_credentials, methods=["GET"]),
]
