"""ActivityPub endpoints: actors (content-negotiated), inboxes, outbox, collections, notes."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import State
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from activitypub.builders import Json, build_collection, build_create, build_ordered_collection
from activitypub.jsonld import ACTIVITY_JSON, accepts_activity_json
from activitypub.signatures import SignedMessage
from server.errors import handle_service_error
from server.models import Account, Actor, Follow, Note
from server.models.federation import FOLLOW_ACCEPTED
from server.render.activitypub import render_instance_actor, render_note
from server.routes.notes import profile_page
from server.services.actors import INSTANCE_ACTOR_PATH
from server.services.actors import instance_actor as find_instance_actor
from server.services.claims import person_document
from server.services.errors import NotFound, ServiceError
from server.services.inbox import verify_inbox_post, verify_signature
from server.services.notes import like_count, like_ids, share_count
from server.services.runtime import federation
from server.settings import Settings

OUTBOX_PAGE = 20


class ActivityResponse(JSONResponse):
    media_type = ACTIVITY_JSON


def _target(scope: Scope) -> str:
    """The request target as `request.url` spells it (path escaped, then the query)."""
    path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode()}" if query else path


def _signed(scope: Scope, body: bytes) -> SignedMessage:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }
    return SignedMessage(scope["method"], _target(scope), headers, body)


async def _signer(request: Request) -> str | None:
    """Who signed this GET (or None); in secure mode an unsigned GET is refused."""
    settings: Settings = request.app.state.settings
    if "signature" not in request.headers and not settings.secure_mode:
        return None
    return await verify_signature(federation(request.app.state).remote, _signed(request.scope, b""))


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
    async with request.app.state.db.session() as session:
        account, local = await _local(session, username)
        document = await person_document(session, request.app.state.settings, account, local)
    return ActivityResponse(document)


async def instance_actor(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    async with request.app.state.db.session() as session:
        row = await find_instance_actor(session, settings)
    if row is None:
        raise NotFound("no instance actor")
    return ActivityResponse(render_instance_actor(settings, row))


async def inbox(request: Request) -> Response:
    await _accept(
        request.app.state, request.path_params.get("username"), await request.body(), request.scope
    )
    return Response(status_code=202)


async def _accept(state: State, username: str | None, body: bytes, scope: Scope) -> None:
    if username is not None:
        async with state.db.session() as session:
            await _local(session, username)
    runtime = federation(state)
    post = await verify_inbox_post(runtime.remote, _signed(scope, body))
    await runtime.batcher.store(post)


class InboxEndpoint:
    """POST to an inbox as a bare ASGI app, served by `DirectRoutes` ahead of the session,
    authentication and router layers it never uses; so it answers its own errors."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive)
            await _accept(scope["app"].state, scope["path_params"].get("username"), body, scope)
        except ServiceError as error:
            request = Request(scope, receive)
            response = await handle_service_error(request, error)
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 202, "headers": _ACCEPTED})
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive) -> bytes:
    """`Request.body()` without the stream machinery: an inbox body comes in one piece."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_ACCEPTED = [(b"content-length", b"0")]


async def outbox(request: Request) -> Response:
    await _signer(request)
    async with request.app.state.db.session() as session:
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
    async with request.app.state.db.session() as session:
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
    async with request.app.state.db.session() as session:
        found, author = await _note(session, request)
    return ActivityResponse(render_note(found, author))


async def note_likes(request: Request) -> Response:
    signer = await _signer(request)
    async with request.app.state.db.session() as session:
        found, author = await _note(session, request)
        total = await like_count(session, found.id or 0)
        items = await like_ids(session, found.id or 0) if signer == author.uri else None
    return ActivityResponse(build_collection(f"{found.uri}/likes", total, items))


async def note_shares(request: Request) -> Response:
    await _signer(request)
    async with request.app.state.db.session() as session:
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
