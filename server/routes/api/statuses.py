"""Mastodon client API: statuses, favourites, remote follows and search-with-resolve."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import current_account, current_user, refuse_nul, require_scope
from server.context import context
from server.convertors import is_row_id
from server.domain_errors import NotFound
from server.errors import BadRequest, read_json
from server.render.mastodon import render_account
from server.render.statuses import StatusView, render_remote_account, render_status
from server.social import statuses
from server.social.interaction import answer_follow_request, follow_requests
from server.social.notes import NewStatus


async def _params(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        data = await read_json(request)
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data
    form = await request.form()
    refuse_nul(form)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _render(request: Request, view: StatusView) -> Response:
    return JSONResponse(render_status(context(request).settings, view))


def _note_id(request: Request) -> int:
    raw = str(request.path_params["status_id"])
    if not is_row_id(raw):
        raise NotFound("no such status")
    return int(raw)


@require_scope("write:statuses")
async def post_status(request: Request) -> Response:
    account = await current_account(request)
    params = await _params(request)
    status = NewStatus(
        text=str(params.get("status") or ""),
        visibility=str(params.get("visibility") or "public"),
        summary=str(params.get("spoiler_text") or ""),
        sensitive=str(params.get("sensitive", "")).lower() in ("true", "1"),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    app = context(request)
    return _render(request, await statuses.post(app.db, app.settings, account, status))


async def get_status(request: Request) -> Response:
    user = current_user(request)
    viewer = user.id if user else None
    return _render(
        request, await statuses.status_for(context(request).db, _note_id(request), viewer)
    )


async def _favourite(request: Request, add: bool) -> Response:
    account = await current_account(request)
    app = context(request)
    view = await statuses.set_favourite(app.db, app.settings, account, _note_id(request), add=add)
    return _render(request, view)


@require_scope("write:favourites")
async def favourite_status(request: Request) -> Response:
    return await _favourite(request, add=True)


@require_scope("write:favourites")
async def unfavourite_status(request: Request) -> Response:
    return await _favourite(request, add=False)


@require_scope("write:follows")
async def follow_remote(request: Request) -> Response:
    account = await current_account(request)
    params = await _params(request)
    app = context(request)
    uri = str(params.get("uri") or "")
    followed = await statuses.follow_uri(app.db, app.federation.remote, account, uri)
    return JSONResponse(render_remote_account(app.settings, followed))


@require_scope("read:search")
async def search(request: Request) -> Response:
    user = current_user(request)
    query = request.query_params.get("q", "")
    settings = context(request).settings
    result: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if request.query_params.get("resolve", "").lower() not in ("true", "1"):
        return JSONResponse(result)
    app = context(request)
    viewer = user.id if user else None
    hit = await statuses.search_resolving(app.db, app.federation.remote, query, viewer)
    if hit.status is not None:
        result["statuses"].append(render_status(settings, hit.status))
    elif hit.local is not None:
        result["accounts"].append(render_account(settings, hit.local))
    elif hit.remote is not None:
        result["accounts"].append(render_remote_account(settings, hit.remote))
    return JSONResponse(result)


@require_scope("write:statuses")
async def delete_status_route(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    return JSONResponse(await statuses.delete(app.db, app.settings, account, _note_id(request)))


def _remote_id(request: Request) -> int:
    raw = str(request.path_params["account_id"]).removeprefix("r")
    if not is_row_id(raw):
        raise NotFound("no such follow request")
    return int(raw)


@require_scope("read:follows")
async def list_follow_requests(request: Request) -> Response:
    account = await current_account(request)
    actors = await follow_requests(context(request).db, account)
    settings = context(request).settings
    return JSONResponse([render_remote_account(settings, actor) for actor in actors])


async def _answer(request: Request, accept: bool) -> Response:
    account = await current_account(request)
    db = context(request).db
    follower = await answer_follow_request(db, account, _remote_id(request), accept)
    relationship = {"id": f"r{follower.id}", "following": False, "followed_by": accept}
    return JSONResponse(relationship)


@require_scope("write:follows")
async def authorize_follow_request(request: Request) -> Response:
    return await _answer(request, accept=True)


@require_scope("write:follows")
async def reject_follow_request(request: Request) -> Response:
    return await _answer(request, accept=False)


def _limit(request: Request) -> int:
    """The `limit` query parameter: 20 when absent, at most 40, ASCII digits only."""
    raw = request.query_params.get("limit") or "20"
    if not is_row_id(raw):
        raise BadRequest("limit must be a whole number from 1 to 40", field="limit")
    return max(1, min(int(raw), 40))


@require_scope("read:statuses")
async def home(request: Request) -> Response:
    account = await current_account(request)
    limit = _limit(request)
    views = await statuses.home(context(request).db, account.id or 0, limit)
    settings = context(request).settings
    return JSONResponse([render_status(settings, view) for view in views])


routes = [
    Route("/api/v1/timelines/home", home, methods=["GET"]),
    Route("/api/v1/statuses", post_status, methods=["POST"]),
    Route("/api/v1/statuses/{status_id}", get_status, methods=["GET"]),
    Route("/api/v1/statuses/{status_id}", delete_status_route, methods=["DELETE"]),
    Route("/api/v1/follow_requests", list_follow_requests, methods=["GET"]),
    Route(
        "/api/v1/follow_requests/{account_id}/authorize",
        authorize_follow_request,
        methods=["POST"],
    ),
    Route("/api/v1/follow_requests/{account_id}/reject", reject_follow_request, methods=["POST"]),
    Route("/api/v1/statuses/{status_id}/favourite", favourite_status, methods=["POST"]),
    Route("/api/v1/statuses/{status_id}/unfavourite", unfavourite_status, methods=["POST"]),
    Route("/api/v1/follows", follow_remote, methods=["POST"]),
    Route("/api/v2/search", search, methods=["GET"]),
]
