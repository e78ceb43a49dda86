"""Mastodon client API: the home, public and hashtag timelines."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import current_account, current_actor, current_user, require_scope
from server.context import context
from server.errors import BadRequest
from server.render.statuses import StatusView, render_status
from server.routes.api.fast_json import FastJSONResponse
from server.routes.api.paging import link_header, page_of
from server.social import statuses
from server.social.timelines import PublicFilter

HASHTAG = re.compile(r"\w{1,100}")


def _answer(request: Request, views: list[StatusView]) -> Response:
    settings = context(request).settings
    body = [render_status(settings, view) for view in views]
    ids = [view.note.id or 0 for view in views]
    return FastJSONResponse(body, headers=link_header(request, ids))


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("true", "1")


@require_scope("read:statuses")
async def home(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    page = page_of(request)
    actor = current_actor(request)
    views = await statuses.home(app.db, app.settings, account.id or 0, page, actor)
    return _answer(request, views)


async def _public(request: Request, tag: str | None) -> Response:
    user = current_user(request)
    app = context(request)
    where = PublicFilter(
        local=_flag(request, "local"),
        remote=_flag(request, "remote"),
        tag=tag,
        only_media=_flag(request, "only_media"),
    )
    page = page_of(request)
    views = await statuses.public(app.db, app.settings, user.id if user else None, where, page)
    return _answer(request, views)


async def public(request: Request) -> Response:
    return await _public(request, None)


async def tag(request: Request) -> Response:
    name = str(request.path_params["hashtag"]).removeprefix("#")
    if not HASHTAG.fullmatch(name):
        raise BadRequest("the hashtag is letters, digits and underscores", field="hashtag")
    return await _public(request, name)


routes = [
    Route("/api/v1/timelines/home", home, methods=["GET"]),
    Route("/api/v1/timelines/public", public, methods=["GET"]),
    Route("/api/v1/timelines/tag/{hashtag}", tag, methods=["GET"]),
]
