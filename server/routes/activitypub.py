"""ActivityPub endpoints: actors (content-negotiated), inboxes, outbox, collections, notes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from activitypub.builders import Json, build_collection, build_create, build_ordered_collection
from activitypub.jsonld import ACTIVITY_JSON, accepts_activity_json
from server.accounts.actors import INSTANCE_ACTOR_PATH
from server.accounts.discovery import the_instance_actor
from server.context import AppContext, context
from server.domain_errors import ServiceError
from server.errors import handle_service_error
from server.federation.inbox import accept_activity, decode_body, verify_signature
from server.render.activitypub import render_instance_actor, render_note
from server.routes.notes import profile_page
from server.routes.signed_body import read_signed_body, signed_message
from server.social import published

OUTBOX_PAGE = 20


class ActivityResponse(JSONResponse):
    media_type = ACTIVITY_JSON


async def _signer(request: Request) -> str | None:
    """Who signed this GET (or None); in secure mode an unsigned GET is refused."""
    settings = context(request).settings
    if "signature" not in request.headers and not settings.secure_mode:
        return None
    message = signed_message(request.scope, b"")
    return await verify_signature(context(request).federation.remote, message)


async def actor(request: Request) -> Response:
    username = request.path_params["username"]
    if not accepts_activity_json(request.headers.get("accept")):
        return await profile_page(request)
    await _signer(request)
    app = context(request)
    return ActivityResponse(await published.actor_document(app.db, app.settings, username))


async def instance_actor(request: Request) -> Response:
    app = context(request)
    row = await the_instance_actor(app.db, app.settings)
    return ActivityResponse(render_instance_actor(app.settings, row))


async def inbox(request: Request) -> Response:
    await _accept(context(request), request.scope, request.receive)
    return Response(status_code=202)


async def _accept(app: AppContext, scope: Scope, receive: Receive) -> None:
    username = scope["path_params"].get("username")
    if username is not None:
        await published.require_local(app.db, username)
    signed = await read_signed_body(scope, receive)
    await store_activity(app, signed.signer, *decode_body(signed.body))


async def store_activity(app: AppContext, signer: str, text: str, data: object) -> None:
    """Store what a verified signer sent for the worker, answered 202 after the commit. A
    repeat of an activity received before is stored once and answered 202 too (senders
    retry after timeouts), as Mastodon answers."""
    await app.federation.batcher.store(accept_activity(signer, text, data))


class InboxEndpoint:
    """POST to an inbox as a bare ASGI app, served by `DirectRoutes` ahead of the session,
    authentication and router layers it never uses; so it answers its own errors."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await _accept(context(scope["app"]), scope, receive)
        except ServiceError as error:
            request = Request(scope, receive)
            response = await handle_service_error(request, error)
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 202, "headers": _ACCEPTED})
        await send({"type": "http.response.body", "body": b""})


_ACCEPTED = [(b"content-length", b"0")]


async def outbox(request: Request) -> Response:
    await _signer(request)
    username = request.path_params["username"]
    found = await published.outbox(context(request).db, username, OUTBOX_PAGE)
    local = found.actor
    items: list[Json] = [
        build_create(f"{note.uri}/activity", local.uri, render_note(note, local))
        for note in found.notes
    ]
    return ActivityResponse(build_ordered_collection(local.outbox, found.total, items))


async def _follow_count(request: Request, followers: bool) -> Response:
    await _signer(request)
    username = request.path_params["username"]
    found = await published.follow_count(context(request).db, username, followers=followers)
    name = "followers" if followers else "following"
    return ActivityResponse(build_ordered_collection(f"{found.actor.uri}/{name}", found.total))


async def followers(request: Request) -> Response:
    return await _follow_count(request, followers=True)


async def following(request: Request) -> Response:
    return await _follow_count(request, followers=False)


async def note(request: Request) -> Response:
    username, note_id = request.path_params["username"], request.path_params["note_id"]
    if not accepts_activity_json(request.headers.get("accept")):
        return RedirectResponse(f"/@{username}/{note_id}", status_code=302)
    await _signer(request)
    found = await published.published_note(context(request).db, username, note_id)
    return ActivityResponse(render_note(found.note, found.author, found.extras))


async def note_likes(request: Request) -> Response:
    signer = await _signer(request)
    username, note_id = request.path_params["username"], request.path_params["note_id"]
    found = await published.note_likes(context(request).db, username, note_id, signer)
    return ActivityResponse(build_collection(f"{found.note.uri}/likes", found.total, found.items))


async def note_shares(request: Request) -> Response:
    await _signer(request)
    username, note_id = request.path_params["username"], request.path_params["note_id"]
    found = await published.note_shares(context(request).db, username, note_id)
    return ActivityResponse(build_collection(f"{found.note.uri}/shares", found.total))


# Served directly by `DirectRoutes`, and by the router like any other route.
inbox_routes = [
    Route("/inbox", InboxEndpoint(), methods=["POST"]),
    Route("/users/{username}/inbox", InboxEndpoint(), methods=["POST"]),
]

routes = [
    Route(INSTANCE_ACTOR_PATH, instance_actor, methods=["GET"]),
    Route(INSTANCE_ACTOR_PATH + "/inbox", inbox, methods=["POST"]),
    *inbox_routes,
    Route("/users/{username}", actor, methods=["GET"]),
    Route("/users/{username}/outbox", outbox, methods=["GET"]),
    Route("/users/{username}/followers", followers, methods=["GET"]),
    Route("/users/{username}/following", following, methods=["GET"]),
    Route("/users/{username}/statuses/{note_id:int}", note, methods=["GET"]),
    Route("/users/{username}/statuses/{note_id:int}/likes", note_likes, methods=["GET"]),
    Route("/users/{username}/statuses/{note_id:int}/shares", note_shares, methods=["GET"]),
]
