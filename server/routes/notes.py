"""People's pages for posts: profiles, a note with its like button, writing a post."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from activitypub.jsonld import accepts_activity_json
from server.auth import checked_form, current_account, current_user
from server.context import context
from server.render.mastodon import DEFAULT_AVATAR, media_url
from server.social import pages
from server.social.notes import NewStatus


def _render(request: Request, name: str, values: Mapping[str, object]) -> Response:
    response: Response = context(request).templates.TemplateResponse(request, name, dict(values))
    return response


def _wants_activity(request: Request) -> bool:
    return accepts_activity_json(request.headers.get("accept"))


async def profile(request: Request) -> Response:
    """`/@name`: the profile page, or the actor's ActivityPub document when asked for it
    (a fediverse app resolving a pasted profile link)."""
    if _wants_activity(request):
        from server.routes import activitypub  # it serves this page's HTML for /users/name

        return await activitypub.actor(request)
    return await profile_page(request)


async def profile_page(request: Request) -> Response:
    app, user = context(request), current_user(request)
    username = request.path_params["username"]
    found = await pages.profile(app.db, app.settings, username, user.id if user else None)
    values = {
        "account": found.account,
        "actor": found.actor,
        "views": found.views,
        "linked": found.linked,
        "supporters": found.supporters,
        "avatar": media_url(app.settings, found.account.avatar_path, DEFAULT_AVATAR),
    }
    return _render(request, "profile.html", values)


async def support_page(request: Request) -> Response:
    """Where the FEP-0ea0 payment link of an actor points: how to pay this creator."""
    found = await pages.support(context(request).db, request.path_params["username"])
    values = {"account": found.account, "actor": found.actor, "notes": found.notes}
    return _render(request, "support.html", values)


async def note(request: Request) -> Response:
    """`/@name/ID`: the note's page, or its ActivityPub document when asked for it (a
    fediverse app resolving a pasted post link)."""
    if _wants_activity(request):
        from server.routes import activitypub  # it redirects browsers here

        return await activitypub.note(request)
    return await note_page(request)


async def note_page(request: Request) -> Response:
    user = current_user(request)
    viewer = user.id if user else None
    username, note_id = request.path_params["username"], request.path_params["note_id"]
    found = await pages.note_page(context(request).db, username, note_id, viewer)
    values = {"account": found.account, "view": found.view, "own": found.own, "like": found.like}
    return _render(request, "note.html", values)


async def like_note(request: Request) -> Response:
    form = await checked_form(request)
    account = await current_account(request, "log in to like posts")
    app = context(request)
    note_id, undo = request.path_params["note_id"], bool(form.get("undo"))
    await pages.like_from_web(app.db, app.settings, account, note_id, undo=undo)
    target = request.url.path.removesuffix("/like")
    return RedirectResponse(target, status_code=303)


async def compose(request: Request) -> Response:
    account = await current_account(request, "log in to write a post")
    if request.method == "GET":
        return _render(request, "compose.html", {"error": None})
    form = await checked_form(request)
    status = NewStatus(
        text=str(form.get("status", "")), visibility=str(form.get("visibility", "public"))
    )
    note = await pages.write(context(request).db, context(request).settings, account, status)
    return RedirectResponse(f"/@{account.username}/{note.id}", status_code=303)


routes = [
    Route("/compose", compose, methods=["GET", "POST"]),
    Route("/@{username}", profile, methods=["GET"]),
    Route("/@{username}/support", support_page, methods=["GET"]),
    Route("/@{username}/{note_id:int}", note, methods=["GET"]),
    Route("/@{username}/{note_id:int}/like", like_note, methods=["POST"]),
]
