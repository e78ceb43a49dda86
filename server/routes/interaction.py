"""Remote interaction both ways: act here on a remote object, or send a visitor home to act."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_account, current_user
from server.context import context
from server.errors import login_redirect
from server.social import pages
from server.social.interaction import interaction_url


async def authorize_interaction(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return login_redirect(request)
    uri, viewer, app = request.query_params.get("uri", ""), user.id, context(request)
    page = await pages.interaction(app.db, app.federation.remote, uri, viewer)
    values = {"uri": uri, "found": page.found, "view": page.view}
    response: Response = app.templates.TemplateResponse(
        request, "authorize_interaction.html", values
    )
    return response


async def act(request: Request) -> Response:
    form = await checked_form(request)
    account = await current_account(request, "log in first, then open this link again")
    app, uri = context(request), str(form.get("uri", ""))
    await pages.act_on(
        app.db, app.settings, app.federation.remote, account, uri, form.get("action")
    )
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
