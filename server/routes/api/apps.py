"""Mastodon client API for applications: registering one, checking its token, and signing a
person up from it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.accounts import oauth
from server.accounts.accounts import NewAccount
from server.accounts.signup import AppSignUp, sign_up_from_app
from server.auth import current_application, require_application
from server.context import context
from server.domain_errors import ServiceError
from server.errors import BadRequest, read_json, status_of
from server.render.oauth import application, token, validation_failed

MAX_FIELD = 4000


async def _params(request: Request) -> dict[str, Any]:
    """The body as Mastodon reads it: JSON, or a form whose repeated or `[]` names are lists."""
    if "json" in request.headers.get("content-type", ""):
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body
    form = await request.form()
    found: dict[str, Any] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue
        key = name.removesuffix("[]")
        if key in found or name.endswith("[]"):
            previous = found.get(key, [])
            found[key] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            found[key] = value
    return found


def _text(params: dict[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if value is None or isinstance(value, dict | bool) or len(str(value)) > MAX_FIELD:
        raise BadRequest(f"{name} must be a string")
    return str(value)


def _uris(params: dict[str, Any]) -> list[str]:
    given = params.get("redirect_uris", params.get("redirect_uri", ""))
    items = given if isinstance(given, list) else [given]
    if not all(isinstance(item, str) and len(item) <= MAX_FIELD for item in items):
        raise BadRequest("redirect_uris must be a string or a list of strings")
    return [str(item) for item in items]


async def create_app(request: Request) -> Response:
    params = await _params(request)
    new = oauth.NewApplication(
        name=_text(params, "client_name"),
        redirect_uris=_uris(params),
        scopes=_text(params, "scopes", "read"),
        website=_text(params, "website"),
    )
    registered = await oauth.register_application(context(request).db, new)
    row = registered.application
    return JSONResponse(application(row, registered.client_secret, row.client_id))


@require_application("")
async def verify_app(request: Request) -> Response:
    row = await oauth.application(context(request).db, current_application(request))
    return JSONResponse(application(row, None, None))


def _agreed(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1", "on")


@require_application("write:accounts")
async def create_account(request: Request) -> Response:
    app = context(request)
    params = await _params(request)
    sign_up = AppSignUp(
        application_id=current_application(request) or 0,
        scopes=" ".join(sorted(request.auth.scopes)),
        new=NewAccount(
            username=_text(params, "username"),
            email=_text(params, "email"),
            password=_text(params, "password"),
        ),
        agreement=_agreed(params.get("agreement")),
        locale=_text(params, "locale"),
    )
    try:
        issued = await sign_up_from_app(app.db, app.settings, sign_up)
    except ServiceError as error:
        status = status_of(error)
        if status in (409, 422):
            body = validation_failed(error.message, error.field, error.code)
            return JSONResponse(body, status_code=422)
        return JSONResponse({"error": error.message}, status_code=status)
    return JSONResponse(token(issued.access_token, issued.scope, issued.created_at))


routes = [
    Route("/api/v1/apps", create_app, methods=["POST"]),
    Route("/api/v1/apps/verify_credentials", verify_app, methods=["GET"]),
    Route("/api/v1/accounts", create_account, methods=["POST"]),
]
