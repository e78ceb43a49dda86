"""Remote interaction both ways: act here on a remote object, or send a visitor home to act."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_account, current_user
from server.context import context
from server.domain_errors import ValidationFailed
from server.social.favourites import SOURCE_WEB, favourite
from server.social.interaction import follow, interaction_url, resolve
from server.social.notes import status_view


async def authorize_interaction(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse("/login", status_code=303)
    uri = request.query_params.get("uri", "")
    found = await resolve(context(request).federation.remote, uri)
    view = None
    if found.note is not None:
        async with context(request).db.session() as session:
            view = await status_view(session, found.note, current_user(request).id)  # type: ignore[union-attr]
    response: Response = context(request).templates.TemplateResponse(
        request, "authorize_interaction.html", {"uri": uri, "found": found, "view": view}
    )
    return response


async def act(request: Request) -> Response:
    form = await checked_form(request)
    account = await current_account(request, "log in first, then open this link again")
    runtime = context(request).federation
    found = await resolve(runtime.remote, str(form.get("uri", "")))
    action = form.get("action")
    if action == "like" and found.note is not None:
        async with context(request).db.transaction() as session:
            await favourite(session, context(request).settings, account, found.note, SOURCE_WEB)
    elif action == "follow" and found.actor is not None and found.note is None:
        await follow(context(request).db, account, found.actor)
    else:
        raise ValidationFailed("nothing to do with this object")
    target = "/authorize_interaction?uri=" + quote(str(form.get("uri", "")), safe="")
    return RedirectResponse(target, status_code=303)


async def remote_interaction(request: Request) -> Response:
    """A visitor from elsewhere: find their server's subscribe template, send them there."""
    form = await checked_form(request)
    handle, uri = str(form.get("handle", "")), str(form.get("uri", ""))
    target = await interaction_url(context(request).federation.remote, handle, uri)
    return RedirectResponse(target, status_code=303)


routes = [
    Route("/authorize_interaction", authorize_interaction, methods=["GET"]),
    Route("/authorize_interaction", act, methods=["POST"]),
    Route("/remote_interaction", remote_interaction, methods=["POST"]),
]
