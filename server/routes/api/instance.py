"""Mastodon client API: the instance (`/api/v1/instance`, `/api/v2/instance` and what hangs
below them). Public, as Mastodon serves them: apps read them before anyone logs in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.context import context
from server.domain_errors import NotFound
from server.render.instance import (
    render_activity,
    render_extended_description,
    render_instance_v1,
    render_instance_v2,
    render_privacy_policy,
    render_rules,
    render_terms_of_service,
)
from server.social import instance_info
from server.social.instance_texts import instance_page


async def instance_v1(request: Request) -> Response:
    app = context(request)
    view = await instance_info.instance_view(app.db, app.settings)
    return JSONResponse(render_instance_v1(app.settings, view))


async def instance_v2(request: Request) -> Response:
    app = context(request)
    view = await instance_info.instance_view(app.db, app.settings)
    return JSONResponse(render_instance_v2(app.settings, view))


async def peers(request: Request) -> Response:
    return JSONResponse(await instance_info.peers(context(request).db))


async def activity(request: Request) -> Response:
    return JSONResponse(render_activity(await instance_info.activity(context(request).db)))


async def rules(request: Request) -> Response:
    return JSONResponse(render_rules(instance_info.instance_rules(context(request).settings)))


async def extended_description(request: Request) -> Response:
    description = instance_info.instance_description(context(request).settings)
    return JSONResponse(render_extended_description(description))


async def privacy_policy(request: Request) -> Response:
    """The privacy policy the admin wrote, or the default that says they have not yet."""
    app = context(request)
    page = await instance_page(app.db, app.settings, "privacy")
    return JSONResponse(render_privacy_policy(page.paragraphs, page.updated_at))


async def terms_of_service(request: Request) -> Response:
    """The terms the admin wrote; 404 until they write them, as Mastodon answers."""
    app = context(request)
    page = await instance_page(app.db, app.settings, "terms")
    if not page.written or page.updated_at is None:
        raise NotFound("this instance has no terms of service yet")
    return JSONResponse(render_terms_of_service(page.paragraphs, page.updated_at))


async def domain_blocks(request: Request) -> Response:
    """The instance blocks no domain as a whole: an empty list."""
    return JSONResponse([])


async def translation_languages(request: Request) -> Response:
    """No translation service: no language pairs."""
    return JSONResponse({})


routes = [
    Route("/api/v1/instance", instance_v1, methods=["GET"]),
    Route("/api/v1/instance/", instance_v1, methods=["GET"]),
    Route("/api/v2/instance", instance_v2, methods=["GET"]),
    Route("/api/v2/instance/", instance_v2, methods=["GET"]),
    Route("/api/v1/instance/peers", peers, methods=["GET"]),
    Route("/api/v1/instance/activity", activity, methods=["GET"]),
    Route("/api/v1/instance/rules", rules, methods=["GET"]),
    Route("/api/v1/instance/extended_description", extended_description, methods=["GET"]),
    Route("/api/v1/instance/privacy_policy", privacy_policy, methods=["GET"]),
    Route("/api/v1/instance/terms_of_service", terms_of_service, methods=["GET"]),
    Route("/api/v1/instance/domain_blocks", domain_blocks, methods=["GET"]),
    Route("/api/v1/instance/translation_languages", translation_languages, methods=["GET"]),
]
