"""People's pages for posts: profiles, a note with its like button, writing a post."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_account, current_user
from server.context import context
from server.domain_errors import NotFound
from server.escrow.claims import linked_accounts
from server.social.favourites import SOURCE_WEB, favourite, unfavourite
from server.social.notes import (
    NewStatus,
    create_status,
    get_note,
    local_profile,
    recent_notes,
    status_view,
    visible_to,
)


def _render(request: Request, name: str, values: Mapping[str, object]) -> Response:
    response: Response = context(request).templates.TemplateResponse(request, name, dict(values))
    return response


async def profile_page(request: Request) -> Response:
    settings = context(request).settings
    async with context(request).db.session() as session:
        account, actor = await local_profile(session, request.path_params["username"])
        notes = await recent_notes(session, actor.id or 0)
        linked = await linked_accounts(session, settings, account.id or 0)
    values = {"account": account, "actor": actor, "notes": notes, "linked": linked}
    return _render(request, "profile.html", values)


async def support_page(request: Request) -> Response:
    """Where the FEP-0ea0 payment link of an actor points: how to pay this creator."""
    async with context(request).db.session() as session:
        account, actor = await local_profile(session, request.path_params["username"])
        notes = await recent_notes(session, actor.id or 0, limit=5)
    values = {"account": account, "actor": actor, "notes": notes}
    return _render(request, "support.html", values)


async def note_page(request: Request) -> Response:
    user = current_user(request)
    viewer = user.id if user else None
    async with context(request).db.session() as session:
        account, _ = await local_profile(session, request.path_params["username"])
        note = await get_note(session, request.path_params["note_id"])
        if note.account_id != account.id or not visible_to(note, viewer):
            raise NotFound("no such post")
        view = await status_view(session, note, viewer)
    return _render(request, "note.html", {"account": account, "view": view})


async def like_note(request: Request) -> Response:
    form = await checked_form(request)
    account = await current_account(request, "log in to like posts")
    settings = context(request).settings
    async with context(request).db.transaction() as session:
        note = await get_note(session, request.path_params["note_id"])
        if not visible_to(note, account.id):
            raise NotFound("no such post")
        if form.get("undo"):
            await unfavourite(session, settings, account, note)
        else:
            await favourite(session, settings, account, note, SOURCE_WEB)
    target = request.url.path.removesuffix("/like")
    return RedirectResponse(target, status_code=303)


async def compose(request: Request) -> Response:
    account = await current_account(request, "log in to like posts")
    if request.method == "GET":
        return _render(request, "compose.html", {"error": None})
    form = await checked_form(request)
    status = NewStatus(
        text=str(form.get("status", "")), visibility=str(form.get("visibility", "public"))
    )
    async with context(request).db.transaction() as session:
        note = await create_status(session, context(request).settings, account, status)
    return RedirectResponse(f"/@{account.username}/{note.id}", status_code=303)


routes = [
    Route("/compose", compose, methods=["GET", "POST"]),
    Route("/@{username}", profile_page, methods=["GET"]),
    Route("/@{username}/support", support_page, methods=["GET"]),
    Route("/@{username}/{note_id:int}", note_page, methods=["GET"]),
    Route("/@{username}/{note_id:int}/like", like_note, methods=["POST"]),
]
