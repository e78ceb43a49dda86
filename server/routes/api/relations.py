"""Mastodon client API: blocks, mutes and domain blocks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.accounts import own
from server.auth import current_user, refuse_nul, require_scope
from server.context import context
from server.domain_errors import Unauthorized
from server.errors import BadRequest, read_json
from server.render.relationships import render_account_view, render_relationship
from server.routes.api.accounts import ACCOUNTS, flag
from server.routes.api.paging import link_header, page_of

DOMAIN_BLOCKS = "/api/v1/domain_blocks"


def _account_id(request: Request) -> int:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user.id


def _ref(request: Request) -> str:
    return str(request.path_params["account_id"])


@require_scope("write:blocks")
async def block(request: Request) -> Response:
    found = await own.set_block(context(request).db, _account_id(request), _ref(request), on=True)
    return JSONResponse(render_relationship(found))


@require_scope("write:blocks")
async def unblock(request: Request) -> Response:
    found = await own.set_block(context(request).db, _account_id(request), _ref(request), on=False)
    return JSONResponse(render_relationship(found))


async def _mute_notifications(request: Request) -> bool:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json(request)
        value = body.get("notifications") if isinstance(body, dict) else None
    else:
        form = await request.form()
        refuse_nul(form)
        value = form.get("notifications")
    chosen = flag(value, "notifications")
    return True if chosen is None else chosen


@require_scope("write:mutes")
async def mute(request: Request) -> Response:
    notifications = await _mute_notifications(request)
    db, who = context(request).db, _account_id(request)
    found = await own.set_mute(db, who, _ref(request), on=True, notifications=notifications)
    return JSONResponse(render_relationship(found))


@require_scope("write:mutes")
async def unmute(request: Request) -> Response:
    found = await own.set_mute(context(request).db, _account_id(request), _ref(request), on=False)
    return JSONResponse(render_relationship(found))


@require_scope("read:blocks")
async def blocks(request: Request) -> Response:
    app = context(request)
    found = await own.blocked(app.db, _account_id(request), page_of(request, 40, 80))
    rendered = [render_account_view(app.settings, view) for view in found.accounts]
    return JSONResponse(rendered, headers=link_header(request, found.cursor_ids))


@require_scope("read:mutes")
async def mutes(request: Request) -> Response:
    app = context(request)
    found = await own.muted(app.db, _account_id(request), page_of(request, 40, 80))
    rendered = [render_account_view(app.settings, view) for view in found.accounts]
    return JSONResponse(rendered, headers=link_header(request, found.cursor_ids))


@require_scope("read:blocks")
async def domain_blocks(request: Request) -> Response:
    page = page_of(request, 100, 200)
    found, ids = await own.blocked_domains(context(request).db, _account_id(request), page)
    return JSONResponse(found, headers=link_header(request, ids))


async def _domain(request: Request) -> str:
    value: object = request.query_params.get("domain")
    if value is None:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await read_json(request)
            value = body.get("domain") if isinstance(body, dict) else None
        else:
            form = await request.form()
            refuse_nul(form)
            value = form.get("domain")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("give the domain to block", field="domain")
    return value


async def _set_domain_block(request: Request, *, on: bool) -> Response:
    domain = await _domain(request)
    app = context(request)
    await own.set_domain_block(app.db, app.settings, _account_id(request), domain, on=on)
    return JSONResponse({})


@require_scope("write:blocks")
async def add_domain_block(request: Request) -> Response:
    return await _set_domain_block(request, on=True)


@require_scope("write:blocks")
async def remove_domain_block(request: Request) -> Response:
    return await _set_domain_block(request, on=False)


routes = [
    Route(ACCOUNTS + "/{account_id}/block", block, methods=["POST"]),
    Route(ACCOUNTS + "/{account_id}/unblock", unblock, methods=["POST"]),
    Route(ACCOUNTS + "/{account_id}/mute", mute, methods=["POST"]),
    Route(ACCOUNTS + "/{account_id}/unmute", unmute, methods=["POST"]),
    Route("/api/v1/blocks", blocks, methods=["GET"]),
    Route("/api/v1/mutes", mutes, methods=["GET"]),
    Route(DOMAIN_BLOCKS, domain_blocks, methods=["GET"]),
    Route(DOMAIN_BLOCKS, add_domain_block, methods=["POST"]),
    Route(DOMAIN_BLOCKS, remove_domain_block, methods=["DELETE"]),
]
