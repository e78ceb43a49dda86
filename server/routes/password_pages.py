"""Forgotten passwords: ask for a link by username or e-mail (always the same answer), then
set a new password through the link the e-mail holds."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.accounts import password_reset
from server.auth import checked_form
from server.context import context
from server.domain_errors import ServiceError
from server.errors import status_of
from server.routes.web import LOGIN_NOTICE

FORGOT = "/password/forgot"
SENT = (
    "If an account here goes by that name or address, we sent it an e-mail with a link to set "
    "a new password. The link works for an hour. Nothing arrived? Look in your spam folder, "
    "or ask again in a few minutes."
)


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    response: Response = context(request).templates.TemplateResponse(
        request, name, dict(values), status_code=status
    )
    # The reset page's address holds the token: no other site learns it from a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def forgot(request: Request) -> Response:
    sent = request.query_params.get("sent") == "1"
    values = {"login": "", "error": None, "notice": SENT if sent else ""}
    return _render(request, "password_forgot.html", values)


async def ask_link(request: Request) -> Response:
    form = await checked_form(request)
    login = str(form.get("login", ""))
    client = request.client.host if request.client else ""
    app = context(request)
    try:
        mail = await password_reset.ask_reset(
            app.db, app.settings, login, client=client, window=app.reset_asks
        )
    except ServiceError as error:
        values = {"login": login, "error": error, "notice": ""}
        status = 429 if isinstance(error, password_reset.TooManyAsks) else status_of(error)
        return _render(request, "password_forgot.html", values, status)
    task = BackgroundTask(password_reset.send_link, app.settings, mail) if mail else None
    return RedirectResponse(f"{FORGOT}?sent=1", status_code=303, background=task)


async def reset_page(request: Request) -> Response:
    token = str(request.path_params["token"])
    live = await password_reset.link_is_live(context(request).db, token)
    values = {"token": token, "live": live, "error": None}
    return _render(request, "password_reset.html", values, 200 if live else 410)


async def set_password(request: Request) -> Response:
    form = await checked_form(request)
    token = str(request.path_params["token"])
    new = str(form.get("new_password", ""))
    try:
        await password_reset.reset_password(context(request).db, token, new)
    except password_reset.LinkVoid:
        return _render(request, "password_reset.html", {"token": token, "live": False}, 410)
    except ServiceError as error:
        values = {"token": token, "live": True, "error": error}
        return _render(request, "password_reset.html", values, status_of(error))
    request.session.clear()  # whoever was logged in here is logged out, as everywhere else
    request.session[LOGIN_NOTICE] = (
        "Your new password is set and every session of your account has ended: log in with it."
    )
    return RedirectResponse("/login", status_code=303)


routes = [
    Route(FORGOT, forgot, methods=["GET"]),
    Route(FORGOT, ask_link, methods=["POST"]),
    Route("/password/reset/{token:str}", reset_page, methods=["GET"]),
    Route("/password/reset/{token:str}", set_password, methods=["POST"]),
]
