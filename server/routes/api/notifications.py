"""Mastodon client API: notifications (list, one, dismiss, clear, unread count) and the
grouped notifications of API v2."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import current_account, require_scope
from server.context import context
from server.render.notifications import render_grouped, render_notification
from server.routes.api.paging import link_header, page_of
from server.social import notifications
from server.social.notifications import NotificationFilter

MAX_TYPES = 50


def _list_param(request: Request, name: str) -> list[str]:
    """A list parameter as clients send it: `name[]=a&name[]=b`, or `name=a`, or commas."""
    values = [*request.query_params.getlist(f"{name}[]"), *request.query_params.getlist(name)]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _filter(request: Request, default_limit: int = 40, maximum: int = 80) -> NotificationFilter:
    types = _list_param(request, "types")[:MAX_TYPES]
    return NotificationFilter(
        types=frozenset(types) if types else None,
        exclude=frozenset(_list_param(request, "exclude_types")[:MAX_TYPES]),
        from_account=request.query_params.get("account_id") or None,
        page=page_of(request, default_limit, maximum),
    )


@require_scope("read:notifications")
async def list_notifications(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    views = await notifications.listing(app.db, app.settings, account.id or 0, _filter(request))
    ids = [view.notification.id or 0 for view in views]
    return JSONResponse(
        [render_notification(app.settings, view) for view in views],
        headers=link_header(request, ids),
    )


@require_scope("read:notifications")
async def grouped_notifications(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    views = await notifications.listing(app.db, app.settings, account.id or 0, _filter(request))
    ids = [view.notification.id or 0 for view in views]
    return JSONResponse(render_grouped(app.settings, views), headers=link_header(request, ids))


@require_scope("read:notifications")
async def get_notification(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    notification_id = request.path_params["id"]
    view = await notifications.one(app.db, app.settings, account.id or 0, notification_id)
    return JSONResponse(render_notification(app.settings, view))


@require_scope("write:notifications")
async def dismiss(request: Request) -> Response:
    account = await current_account(request)
    await notifications.dismiss(context(request).db, account.id or 0, request.path_params["id"])
    return JSONResponse({})


@require_scope("write:notifications")
async def clear(request: Request) -> Response:
    account = await current_account(request)
    await notifications.clear(context(request).db, account.id or 0)
    return JSONResponse({})


@require_scope("read:notifications")
async def unread_count(request: Request) -> Response:
    account = await current_account(request)
    wanted = _filter(request)
    count = await notifications.unread_count(context(request).db, account.id or 0, wanted)
    return JSONResponse({"count": count})


routes = [
    Route("/api/v1/notifications", list_notifications, methods=["GET"]),
    Route("/api/v2/notifications", grouped_notifications, methods=["GET"]),
    Route("/api/v1/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v2/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v1/notifications/clear", clear, methods=["POST"]),
    Route("/api/v1/notifications/{id:int}", get_notification, methods=["GET"]),
    Route("/api/v1/notifications/{id:int}/dismiss", dismiss, methods=["POST"]),
]
