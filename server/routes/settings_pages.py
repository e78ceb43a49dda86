"""A person's settings pages: the apps they authorized, their personal access tokens, their
password."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.accounts import oauth, own, personal_tokens
from server.accounts.tokens import GRANULAR_SCOPES, TOP_SCOPES
from server.auth import AccountUser, checked_form, current_user
from server.context import context
from server.domain_errors import ServiceError, Unauthorized
from server.errors import status_of
from server.render.oauth import SCOPE_LABELS

SETTINGS_NOTICE = "settings_notice"
TOKEN_SCOPES = (*TOP_SCOPES, *GRANULAR_SCOPES)


def _user(request: Request) -> AccountUser:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user


def _login(request: Request) -> Response:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _page(request: Request, name: str, values: Mapping[str, object], status: int = 200) -> Response:
    full = {"notice": request.session.pop(SETTINGS_NOTICE, ""), **values}
    response: Response = context(request).templates.TemplateResponse(
        request, name, full, status_code=status
    )
    return response


def _done(request: Request, notice: str, path: str) -> Response:
    request.session[SETTINGS_NOTICE] = notice
    return RedirectResponse(path, status_code=303)


async def applications(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    apps = await oauth.authorized_apps(context(request).db, _user(request).id)
    return _page(request, "settings_applications.html", {"apps": apps})


async def revoke_application(request: Request) -> Response:
    await checked_form(request)
    app_id = int(request.path_params["app_id"])
    await oauth.revoke_application(context(request).db, _user(request).id, app_id)
    return _done(request, "The app no longer has access to your account.", "/settings/applications")


def _tokens(
    request: Request,
    page: personal_tokens.TokensPage,
    name: str = "",
    chosen: Sequence[str] = ("read",),
) -> Response:
    """The tokens page; a refused form keeps the name typed and the scopes ticked."""
    refused = page.error is not None
    values = {
        "page": page,
        "scopes": [(scope, SCOPE_LABELS.get(scope, "")) for scope in TOKEN_SCOPES],
        "error": page.error,
        "entered_name": name if refused else "",
        "chosen": list(chosen) if refused else ["read"],
    }
    status = status_of(page.error) if page.error else 200
    return _page(request, "settings_tokens.html", values, status)


async def tokens(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    return _tokens(
        request, await personal_tokens.tokens_page(context(request).db, _user(request).id)
    )


async def create_token(request: Request) -> Response:
    form = await checked_form(request)
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str) and s in TOKEN_SCOPES]
    name = str(form.get("name", ""))
    page = await personal_tokens.create_personal_token(
        context(request).db, _user(request).id, name, scopes
    )
    return _tokens(request, page, name, scopes)


async def revoke_token(request: Request) -> Response:
    await checked_form(request)
    token_id = int(request.path_params["token_id"])
    await personal_tokens.revoke_personal_token(context(request).db, _user(request).id, token_id)
    return _done(request, "The token is revoked.", "/settings/tokens")


async def password(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    return _page(request, "settings_password.html", {"error": None})


async def change_password(request: Request) -> Response:
    form = await checked_form(request)
    user = _user(request)
    current, new = str(form.get("current_password", "")), str(form.get("new_password", ""))
    try:
        ended = await own.change_password(
            context(request).db, user.id, current, new, user.session_id
        )
    except ServiceError as error:
        values = {"error": error}
        return _page(request, "settings_password.html", values, status_of(error))
    others = f"; {ended} other session{'' if ended == 1 else 's'} ended" if ended else ""
    return _done(request, f"Your password is changed{others}.", "/settings/password")


routes = [
    Route("/settings/applications", applications, methods=["GET"]),
    Route("/settings/applications/{app_id:int}/revoke", revoke_application, methods=["POST"]),
    Route("/settings/tokens", tokens, methods=["GET"]),
    Route("/settings/tokens", create_token, methods=["POST"]),
    Route("/settings/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"]),
    Route("/settings/password", password, methods=["GET"]),
    Route("/settings/password", change_password, methods=["POST"]),
]
