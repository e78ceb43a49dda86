"""ActivityPub endpoints: actors (content-negotiated), inboxes, outbox, collections, notes."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from activitypub.builders import Json, build_collection, build_create, build_ordered_collection
from activitypub.jsonld import ACTIVITY_JSON, accepts_activity_json
from server.models import Account, Actor, Follow, Note
from server.models.federation import FOLLOW_ACCEPTED
from server.render.activitypub import render_instance_actor, render_note, render_person
from server.routes.notes import profile_page
from server.services.actors import INSTANCE_ACTOR_PATH
from server.services.actors import instance_actor as find_instance_actor
from server.services.errors import NotFound
from server.services.inbox import SignedRequest, verify_inbox_post, verify_signature
from server.services.notes import like_count, like_ids, share_count
from server.services.runtime import federation
from server.settings import Settings

OUTBOX_PAGE = 20


class ActivityResponse(JSONResponse):
    media_type = ACTIVITY_JSON


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _signed(request: Request, body: bytes) -> SignedRequest:
    return SignedRequest(request.method, _target(request), request.headers, body)


async def _signer(request: Request) -> str | None:
    """Who signed this GET (or None); in secure mode an unsigned GET is refused."""
    settings: Settings = request.app.state.settings
    if "signature" not in request.headers and not settings.secure_mode:
        return None
    return await verify_signature(federation(request.app.state).remote, _signed(request, b""))


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
    return ActivityResponse(render_person(request.app.state.settings, local, account))


async def instance_actor(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    async with request.app.state.db.session() as session:
        row = await find_instance_actor(session, settings)
    if row is None:
        raise NotFound("no instance actor")
    return ActivityResponse(render_instance_actor(settings, row))


async def inbox(request: Request) -> Response:
    username = request.path_params.get("username")
    if username is not None:
        async with request.app.state.db.session() as session:
            await _local(session, username)
    body = await request.body()
    runtime = federation(request.app.state)
    activity = await verify_inbox_post(runtime.remote, _signed(request, body))
    await runtime.batcher.store(activity, body)
    return Response(status_code=202)


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


routes = [
    Route(INSTANCE_ACTOR_PATH, instance_actor, methods=["GET"]),
    Route(INSTANCE_ACTOR_PATH + "/inbox", inbox, methods=["POST"]),
    Route("/inbox", inbox, methods=["POST"]),
    Route("/users/{username}", actor, methods=["GET"]),
    Route("/users/{username}/inbox", inbox, methods=["POST"]),
    Route("/users/{username}/outbox", outbox, methods=["GET"]),
    Route("/users/{username}/followers", followers, methods=["GET"]),
    Route("/users/{username}/following", following, methods=["GET"]),
    Route("/users/{username}/statuses/{note_id:int}", note, methods=["GET"]),
    Route("/users/{username}/statuses/{note_id:int}/likes", note_likes, methods=["GET"]),
    Route("/users/{username}/statuses/{note_id:int}/shares", note_shares, methods=["GET"]),
]
