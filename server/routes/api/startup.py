"""Mastodon client API: what apps call right after logging in. Where the instance has no
such feature (filters, lists, announcements, trends, custom emojis…) the answer is an empty
list, so apps start up cleanly; markers are stored. Each endpoint takes the scope Mastodon
requires, and those Mastodon serves without a token need none here."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from server.auth import current_account, refuse_nul, require_scope
from server.context import context
from server.errors import BadRequest, read_json
from server.render.instance import PREFERENCES, render_markers, render_notification_policy
from server.routes.api.paging import page_of
from server.social import markers

MARKER_FIELD = "last_read_id"


def _empty_list(request: Request) -> Response:
    """A list endpoint of a feature the instance does not have: its paging parameters are
    checked as any list's are, and the page is empty (so no Link header)."""
    page_of(request)
    return JSONResponse([])


async def public_empty_list(request: Request) -> Response:
    """custom_emojis, trends: public in Mastodon too."""
    return _empty_list(request)


@require_scope("read:accounts")
async def preferences(request: Request) -> Response:
    """The fixed reading preferences, and the posting defaults the account chose."""
    account = await current_account(request)
    return JSONResponse(
        {
            **PREFERENCES,
            "posting:default:visibility": account.privacy or "public",
            "posting:default:sensitive": account.sensitive,
            "posting:default:language": account.language or None,
        }
    )


@require_scope("read:accounts")
async def accounts_empty_list(request: Request) -> Response:
    """featured_tags, endorsements."""
    return _empty_list(request)


@require_scope("read:filters")
async def filters(request: Request) -> Response:
    return _empty_list(request)


@require_scope("read:lists")
async def lists(request: Request) -> Response:
    return _empty_list(request)


@require_scope("read:statuses")
async def statuses_empty_list(request: Request) -> Response:
    """conversations, scheduled_statuses."""
    return _empty_list(request)


@require_scope("read:follows")
async def followed_tags(request: Request) -> Response:
    return _empty_list(request)


@require_scope("read")
async def read_empty_list(request: Request) -> Response:
    """announcements, suggestions."""
    return _empty_list(request)


async def streaming_health(request: Request) -> Response:
    return PlainTextResponse("OK")


@require_scope("read:notifications")
async def notification_policy(request: Request) -> Response:
    return JSONResponse(render_notification_policy(v2=request.url.path.startswith("/api/v2")))


@require_scope("write:notifications")
async def update_notification_policy(request: Request) -> Response:
    """The instance filters no notification: the policy stays as it is, and is answered."""
    return JSONResponse(render_notification_policy(v2=request.url.path.startswith("/api/v2")))


@require_scope("read:statuses")
async def get_markers(request: Request) -> Response:
    account = await current_account(request)
    asked = request.query_params.getlist("timeline[]") + request.query_params.getlist("timeline")
    found = await markers.markers(context(request).db, account, asked)
    return JSONResponse(render_markers(found))


def _positions_from_json(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    positions: dict[str, str] = {}
    for timeline, marker in data.items():
        if isinstance(marker, dict) and isinstance(marker.get(MARKER_FIELD), str | int):
            positions[str(timeline)] = str(marker[MARKER_FIELD])
    return positions


async def _positions(request: Request) -> dict[str, str]:
    """`{timeline: last_read_id}` from `home[last_read_id]=…` (a form or the query string,
    as Mastodon reads either) or `{"home": {"last_read_id": …}}`."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return _positions_from_json(await read_json(request))
    form = await request.form()
    refuse_nul(form)
    fields = {**request.query_params, **{k: v for k, v in form.items() if isinstance(v, str)}}
    return {
        name.removesuffix(f"[{MARKER_FIELD}]"): value
        for name, value in fields.items()
        if name.endswith(f"[{MARKER_FIELD}]")
    }


@require_scope("write:statuses")
async def save_markers(request: Request) -> Response:
    account = await current_account(request)
    positions = await _positions(request)
    saved = await markers.save_markers(context(request).db, account, positions)
    return JSONResponse(render_markers(saved))


routes = [
    Route("/api/v1/preferences", preferences, methods=["GET"]),
    Route("/api/v1/custom_emojis", public_empty_list, methods=["GET"]),
    Route("/api/v1/filters", filters, methods=["GET"]),
    Route("/api/v2/filters", filters, methods=["GET"]),
    Route("/api/v1/lists", lists, methods=["GET"]),
    Route("/api/v1/markers", get_markers, methods=["GET"]),
    Route("/api/v1/markers", save_markers, methods=["POST"]),
    Route("/api/v1/announcements", read_empty_list, methods=["GET"]),
    Route("/api/v1/conversations", statuses_empty_list, methods=["GET"]),
    Route("/api/v1/scheduled_statuses", statuses_empty_list, methods=["GET"]),
    Route("/api/v1/trends", public_empty_list, methods=["GET"]),
    Route("/api/v1/trends/tags", public_empty_list, methods=["GET"]),
    Route("/api/v1/trends/statuses", public_empty_list, methods=["GET"]),
    Route("/api/v1/trends/links", public_empty_list, methods=["GET"]),
    Route("/api/v1/suggestions", read_empty_list, methods=["GET"]),
    Route("/api/v2/suggestions", read_empty_list, methods=["GET"]),
    Route("/api/v1/followed_tags", followed_tags, methods=["GET"]),
    Route("/api/v1/featured_tags", accounts_empty_list, methods=["GET"]),
    Route("/api/v1/endorsements", accounts_empty_list, methods=["GET"]),
    Route("/api/v1/streaming/health", streaming_health, methods=["GET"]),
    Route("/api/v1/notifications/policy", notification_policy, methods=["GET"]),
    Route("/api/v2/notifications/policy", notification_policy, methods=["GET"]),
    Route("/api/v1/notifications/policy", update_notification_policy, methods=["PATCH", "PUT"]),
    Route("/api/v2/notifications/policy", update_notification_policy, methods=["PATCH", "PUT"]),
]
