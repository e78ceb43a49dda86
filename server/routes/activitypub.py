"""ActivityPub endpoints: actors (content-negotiated), inboxes, outbox, collections, notes."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from activitypub.builders import Json, build_collection, build_create, build_ordered_collection
from activitypub.jsonld import ACTIVITY_JSON, accepts_activity_json
from server.accounts.actors import INSTANCE_ACTOR_PATH
from server.accounts.actors import instance_actor as find_instance_actor
from server.context import AppContext, context
from server.domain_errors import NotFound, ServiceError
from server.errors import handle_service_error
from server.escrow.claims import person_document
from server.federation.inbox import accept_activity, decode_body, verify_signature
from server.models import Account, Actor, Follow, Note
from server.models.federation import FOLLOW_ACCEPTED
from server.render.activitypub import render_instance_actor, render_note
from server.routes.notes import profile_page
from server.routes.signed_body import read_signed_body, signed_message
from server.settings import Settings
from server.social.notes import like_count, like_ids, share_count

OUTBOX_PAGE = 20


class ActivityResponse(JSONResponse):
    media_type = ACTIVITY_JSON


async def _signer(request: Request) -> str | None:
    """Who signed this GET (or None); in secure mode an unsigned GET is refused."""
    settings: Settings = context(request).settings
    if "signature" not in request.headers and not settings.secure_mode:
        return None
    message = signed_message(request.scope, b"")
    return await verify_signature(context(request).federation.remote, message)


async def _local(session: AsyncSession, username: str) -> tuple[Account, Actor]:
    query = select(Account, Actor).join(Actor, col(Actor.account_id) == col(Account.id))
    row = (await session.exec(query.where(Account.username == username))).first()
    if row is None or row[0].suspended_at is not None:
        raise NotFound("no such user")
    return row[0], row[1]


async def actor(request: Request) -> Response:
    username = request.path_params["username"]
    if not accepts_activity_json(request.headers.get("accept")):
        return await profile_page(request)
    await _signer(request)
    async with context(request).db.session() as session:
        account, local = await _local(session, username)
        document = await person_document(session, context(request).settings, account, local)
    return ActivityResponse(document)


async def instance_actor(request: Request) -> Response:
    settings: Settings = context(request).settings
    async with context(request).db.session() as session:
        row = await find_instance_actor(session, settings)
    if row is None:
        raise NotFound("no instance actor")
    return ActivityResponse(render_instance_actor(settings, row))


async def inbox(request: Request) -> Response:
    await _accept(context(request), request.scope, request.receive)
    return Response(status_code=202)


async def _accept(app: AppContext, scope: Scope, receive: Receive) -> None:
    username = scope["path_params"].get("username")
    if username is not None:
        async with app.db.session() as session:
            await _local(session, username)
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
    async with context(request).db.session() as session:
        _, local = await _local(session, request.path_params["username"])
        public = (Note.author_id == local.id, Note.visibility == "public")
        total_query = select(func.count()).select_from(Note).where(*public)
        total = int((await session.exec(total_query)).one())
        query = select(Note).where(*public, col(Note.deleted_at).is_(None))
        notes = (await session.exec(query.order_by(col(Note.id).desc()).limit(OUTBOX_PAGE))).all()
    items: list[Json] = [
        build_create(f"{note.uri}/activity", local.uri, render_note(note, local)) for note in notes
    ]
    return ActivityResponse(build_ordered_collection(local.outbox, total, items))


async def _follow_count(request: Request, followers: bool) -> Response:
    await _signer(request)
    async with context(request).db.session() as session:
        _, local = await _local(session, request.path_params["username"])
        column = Follow.followee_id if followers else Follow.follower_id
        query = select(func.count()).select_from(Follow).where(column == local.id)
        total = int((await session.exec(query.where(Follow.state == FOLLOW_ACCEPTED))).one())
    name = "followers" if followers else "following"
    return ActivityResponse(build_ordered_collection(f"{local.uri}/{name}", total))


async def followers(request: Request) -> Response:
    return await _follow_count(request, followers=True)


async def following(request: Request) -> Response:
    return await _follow_count(request, followers=False)


async def _note(session: AsyncSession, request: Request) -> tuple[Note, Actor]:
    _, local = await _local(session, request.path_params["username"])
    note = await session.get(Note, request.path_params["note_id"])
    if note is None or note.author_id != local.id or note.deleted_at is not None:
        raise NotFound("no such note")
    if note.visibility == "private":
        raise NotFound("no such note")
    return note, local


async def note(request: Request) -> Response:
    if not accepts_activity_json(request.headers.get("accept")):
        username, note_id = request.path_params["username"], request.path_params["note_id"]
        return RedirectResponse(f"/@{username}/{note_id}", status_code=302)
    await _signer(request)
    async with context(request).db.session() as session:
        found, author = await _note(session, request)
    return ActivityResponse(render_note(found, author))


async def note_likes(request: Request) -> Response:
    signer = await _signer(request)
    async with context(request).db.session() as session:
        found, author = await _note(session, request)
        total = await like_count(session, found.id or 0)
        items = await like_ids(session, found.id or 0) if signer == author.uri else None
    return ActivityResponse(build_collection(f"{found.uri}/likes", total, items))


async def note_shares(request: Request) -> Response:
    await _signer(request)
    async with context(request).db.session() as session:
        found, _ = await _note(session, request)
        total = await share_count(session, found.id or 0)
    return ActivityResponse(build_collection(f"{found.uri}/shares", total))


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
