"""Mastodon client API: statuses, favourites, remote follows and search-with-resolve."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import (
    current_account,
    current_actor,
    current_application,
    current_user,
    require_scope,
)
from server.context import context
from server.convertors import is_row_id
from server.domain_errors import NotFound
from server.errors import BadRequest
from server.render.mastodon import render_account
from server.render.relationships import render_account_view, render_relationship
from server.render.statuses import StatusView, render_remote_account, render_status, render_tag
from server.routes.api.fast_json import FastJSONResponse
from server.routes.api.paging import link_header, page_of
from server.routes.api.params import body_params
from server.social import follow_requests, search, statuses
from server.social.notes import NewStatus


def _render(request: Request, view: StatusView) -> Response:
    return FastJSONResponse(render_status(context(request).settings, view))


def _note_id(request: Request) -> int:
    raw = str(request.path_params["status_id"])
    if not is_row_id(raw):
        raise NotFound("no such status")
    return int(raw)


@require_scope("write:statuses")
async def post_status(request: Request) -> Response:
    account = await current_account(request)
    params = await body_params(request)
    sensitive = params.get("sensitive")
    status = NewStatus(
        text=_text(params, "status"),
        # What the client leaves out, the account's posting defaults decide (`source`).
        visibility=_text(params, "visibility") or account.privacy or "public",
        summary=_text(params, "spoiler_text"),
        sensitive=account.sensitive if sensitive in (None, "") else _flag(sensitive),
        idempotency_key=request.headers.get("idempotency-key"),
        in_reply_to_id=_optional_id(params.get("in_reply_to_id"), "in_reply_to_id"),
        language=_text(params, "language") or account.language,
        media_ids=_media_ids(params.get("media_ids")),
        application_id=current_application(request),
    )
    app = context(request)
    view = await statuses.post(app.db, app.settings, app.federation.remote, account, status)
    return _render(request, view)


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", field=name)
    return value


def _media_ids(value: object) -> tuple[int, ...]:
    """`media_ids[]` (a form's repeated field or a JSON array): ids in the order given."""
    if value is None or value == "":
        return ()
    values = value if isinstance(value, list) else [value]
    raws = [str(v) if isinstance(v, str | int) and not isinstance(v, bool) else "" for v in values]
    if not all(is_row_id(raw) for raw in raws):
        raise BadRequest("media_ids must be media ids", field="media_ids")
    return tuple(int(raw) for raw in raws)


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _optional_id(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    raw = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not is_row_id(raw):
        raise NotFound("the status replied to does not exist")
    return int(raw)


def _viewer(request: Request) -> int | None:
    user = current_user(request)
    return user.id if user else None


async def get_status(request: Request) -> Response:
    app = context(request)
    view = await statuses.status_for(app.db, app.settings, _note_id(request), _viewer(request))
    return _render(request, view)


@require_scope("read:statuses")
async def status_source(request: Request) -> Response:
    """`GET /api/v1/statuses/:id/source`: the text an app edits from."""
    app = context(request)
    found = await statuses.source_of(app.db, _note_id(request), _viewer(request))
    return JSONResponse(
        {"id": str(found.id), "text": found.text, "spoiler_text": found.spoiler_text}
    )


async def status_context(request: Request) -> Response:
    app = context(request)
    found = await statuses.thread(app.db, app.settings, _note_id(request), _viewer(request))
    return JSONResponse(
        {
            "ancestors": [render_status(app.settings, view) for view in found.ancestors],
            "descendants": [render_status(app.settings, view) for view in found.descendants],
        }
    )


async def _people(request: Request, shared: bool) -> Response:
    app = context(request)
    page = page_of(request, default=40, maximum=80)
    found = await statuses.people(app.db, _note_id(request), _viewer(request), page, shared=shared)
    body = [
        render_account(app.settings, account)
        if account is not None
        else render_remote_account(app.settings, actor)
        for actor, account in found.actors
    ]
    return JSONResponse(body, headers=link_header(request, found.ids))


async def favourited_by(request: Request) -> Response:
    return await _people(request, shared=False)


async def reblogged_by(request: Request) -> Response:
    return await _people(request, shared=True)


@require_scope("write:statuses")
async def reblog_status(request: Request) -> Response:
    account = await current_account(request)
    params = await body_params(request)
    app = context(request)
    visibility = _text(params, "visibility") or "public"
    view = await statuses.set_reblog(app.db, app.settings, account, _note_id(request), visibility)
    return _render(request, view)


@require_scope("write:statuses")
async def unreblog_status(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    view = await statuses.set_reblog(app.db, app.settings, account, _note_id(request), None)
    return _render(request, view)


async def _bookmark(request: Request, add: bool) -> Response:
    account = await current_account(request)
    app = context(request)
    view = await statuses.set_bookmark(app.db, app.settings, account, _note_id(request), add=add)
    return _render(request, view)


@require_scope("write:bookmarks")
async def bookmark_status(request: Request) -> Response:
    return await _bookmark(request, add=True)


@require_scope("write:bookmarks")
async def unbookmark_status(request: Request) -> Response:
    return await _bookmark(request, add=False)


def _listed(request: Request, found: statuses.Listed) -> Response:
    settings = context(request).settings
    body = [render_status(settings, view) for view in found.views]
    return FastJSONResponse(body, headers=link_header(request, found.ids))


@require_scope("read:bookmarks")
async def list_bookmarks(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    page = page_of(request)
    return _listed(request, await statuses.bookmarks(app.db, app.settings, account.id or 0, page))


@require_scope("read:favourites")
async def list_favourites(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    page = page_of(request)
    found = await statuses.favourites(app.db, app.settings, account.id or 0, page)
    return _listed(request, found)


async def _favourite(request: Request, add: bool) -> Response:
    account = await current_account(request)
    app = context(request)
    note_id, actor = _note_id(request), current_actor(request)
    view = await statuses.set_favourite(
        app.db, app.settings, account, note_id, add=add, actor=actor
    )
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
    params = await body_params(request)
    app = context(request)
    uri = str(params.get("uri") or "")
    actor, local = await statuses.follow_uri(app.db, app.federation.remote, account, uri)
    if local is not None:
        return JSONResponse(render_account(app.settings, local))
    return JSONResponse(render_remote_account(app.settings, actor))


def _whole(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name) or str(default)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"{name} must be a whole number", field=name)
    return min(int(raw), maximum)


def _search_type(value: str) -> str:
    if value not in ("", *search.TYPES):
        raise BadRequest("type must be accounts, statuses or hashtags", field="type")
    return value


def _search_query(request: Request) -> search.SearchQuery:
    params = request.query_params
    user = current_user(request)
    return search.SearchQuery(
        text=params.get("q", ""),
        type=_search_type(params.get("type", "")),
        resolve=_flag(params.get("resolve")),
        limit=max(1, _whole(request, "limit", 20, 40)),
        offset=_whole(request, "offset", 0, 10_000),
        viewer_id=user.id if user else None,
        following=_flag(params.get("following")),
        account_ref=params.get("account_id") or None,
    )


@require_scope("read:search")
async def search_route(request: Request) -> Response:
    """`GET /api/v2/search`: accounts, statuses and hashtags (see server/social/search.py)."""
    app = context(request)
    found = await search.search(app.db, app.federation.remote, app.settings, _search_query(request))
    settings = app.settings
    return JSONResponse(
        {
            "accounts": [render_account_view(settings, view) for view in found.accounts],
            "statuses": [render_status(settings, view) for view in found.statuses],
            "hashtags": [render_tag(settings, name) for name in found.hashtags],
        }
    )


@require_scope("write:statuses")
async def delete_status_route(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    return JSONResponse(await statuses.delete(app.db, app.settings, account, _note_id(request)))


@require_scope("read:follows")
async def list_follow_requests(request: Request) -> Response:
    """The accounts asking to follow, with the ids authorize and reject take."""
    account = await current_account(request)
    app = context(request)
    found = await follow_requests.pending(app.db, account.id or 0, page_of(request, 40, 80))
    rendered = [render_account_view(app.settings, view) for view in found.accounts]
    return JSONResponse(rendered, headers=link_header(request, found.cursor_ids))


async def _answer(request: Request, accept: bool) -> Response:
    account = await current_account(request)
    ref = str(request.path_params["account_id"])
    found = await follow_requests.answer(context(request).db, account, ref, accept=accept)
    return JSONResponse(render_relationship(found))


@require_scope("write:follows")
async def authorize_follow_request(request: Request) -> Response:
    return await _answer(request, accept=True)


@require_scope("write:follows")
async def reject_follow_request(request: Request) -> Response:
    return await _answer(request, accept=False)


routes = [
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
    Route("/api/v1/statuses/{status_id}/context", status_context, methods=["GET"]),
    Route("/api/v1/statuses/{status_id}/source", status_source, methods=["GET"]),
    Route("/api/v1/statuses/{status_id}/favourited_by", favourited_by, methods=["GET"]),
    Route("/api/v1/statuses/{status_id}/reblogged_by", reblogged_by, methods=["GET"]),
    Route("/api/v1/statuses/{status_id}/reblog", reblog_status, methods=["POST"]),
    Route("/api/v1/statuses/{status_id}/unreblog", unreblog_status, methods=["POST"]),
    Route("/api/v1/statuses/{status_id}/bookmark", bookmark_status, methods=["POST"]),
    Route("/api/v1/statuses/{status_id}/unbookmark", unbookmark_status, methods=["POST"]),
    Route("/api/v1/bookmarks", list_bookmarks, methods=["GET"]),
    Route("/api/v1/favourites", list_favourites, methods=["GET"]),
    Route("/api/v1/follows", follow_remote, methods=["POST"]),
    Route("/api/v2/search", search_route, methods=["GET"]),
]
