"""OAuth 2 as Mastodon serves it: the authorization page (log-in, consent), the token and
revocation endpoints, and the authorization server's metadata."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.accounts import oauth
from server.accounts.oauth_grants import OOB, OAuthAnswer, OAuthRequest
from server.accounts.tokens import KNOWN_SCOPES
from server.auth import checked_form, current_user
from server.context import context
from server.errors import read_json
from server.render.oauth import SCOPE_LABELS, server_metadata

FLOW_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def _page(request: Request, name: str, values: Mapping[str, object], status: int = 200) -> Response:
    response: Response = context(request).templates.TemplateResponse(
        request, name, dict(values), status_code=status
    )
    return response


def _refused(request: Request, answer: OAuthAnswer) -> Response:
    """An authorization request that cannot go back to the app: said on a page."""
    if answer.location is not None and not answer.location.startswith(OOB):
        return RedirectResponse(answer.location, status_code=302)
    message = str(answer.body.get("error_description") or answer.body.get("error") or "refused")
    status = answer.status if answer.status >= 400 else 400
    return _page(request, "error.html", {"status": status, "message": message}, status)


async def authorize(request: Request) -> Response:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "force_login"]
    forced = request.query_params.get("force_login", "").lower() in ("true", "1")
    if current_user(request) is None or forced:
        back = "/oauth/authorize?" + urlencode(params)
        return RedirectResponse("/login?next=" + quote(back, safe=""), status_code=303)
    consent = await oauth.consent(context(request).db, OAuthRequest("GET", params, {}))
    if consent.answer is not None:
        return _refused(request, consent.answer)
    hidden = [(name, value) for name, value in params if name in FLOW_PARAMS]
    values = {
        "app_name": consent.app_name,
        "website": consent.website,
        "scopes": [(scope, SCOPE_LABELS.get(scope, scope)) for scope in consent.scopes],
        "hidden": hidden,
    }
    return _page(request, "oauth_authorize.html", values)


async def decide(request: Request) -> Response:
    form = await checked_form(request)
    user = current_user(request)
    params = [(k, v) for k, v in form.multi_items() if k in FLOW_PARAMS and isinstance(v, str)]
    if user is None:
        back = "/oauth/authorize?" + urlencode(params)
        return RedirectResponse("/login?next=" + quote(back, safe=""), status_code=303)
    approve = form.get("decision") == "approve"
    request_ = OAuthRequest("POST", params, {})
    decision = await oauth.decide(context(request).db, request_, user.id, approve)
    if decision.oob_code is not None:
        return _page(request, "oauth_code.html", {"code": decision.oob_code})
    answer = decision.answer
    if answer.status == 302 and answer.location and not answer.location.startswith(OOB):
        return RedirectResponse(answer.location, status_code=302)
    if not approve:
        return _page(request, "oauth_code.html", {"code": None})
    return _refused(request, answer)


async def _token_request(request: Request) -> OAuthRequest:
    """The parameters of a token or revocation request: a form, or JSON as Mastodon takes."""
    params = list(request.query_params.multi_items())
    if "json" in request.headers.get("content-type", ""):
        body = await read_json(request)
        if isinstance(body, dict):
            params += [(k, str(v)) for k, v in body.items() if isinstance(v, str | int)]
    else:
        form = await request.form()
        params += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return OAuthRequest("POST", params, {"Authorization": request.headers.get("authorization", "")})


def _answer(answer: OAuthAnswer) -> Response:
    headers = {k: v for k, v in answer.headers if k.lower() != "content-type"}
    return JSONResponse(dict(answer.body), status_code=answer.status, headers=headers)


async def token(request: Request) -> Response:
    app = context(request)
    parsed = await _token_request(request)
    enabled = app.settings.oauth_password_grant
    return _answer(await oauth.token(app.db, parsed, password_grant=enabled))


async def revoke(request: Request) -> Response:
    parsed = await _token_request(request)
    return _answer(await oauth.revoke(context(request).db, parsed))


async def metadata(request: Request) -> Response:
    settings = context(request).settings
    scopes = sorted(KNOWN_SCOPES)
    return JSONResponse(server_metadata(settings, scopes, settings.oauth_password_grant))


routes = [
    Route("/oauth/authorize", authorize, methods=["GET"], name="oauth_authorize"),
    Route("/oauth/authorize", decide, methods=["POST"], name="oauth_decide"),
    Route("/oauth/token", token, methods=["POST"], name="oauth_token"),
    Route("/oauth/revoke", revoke, methods=["POST"], name="oauth_revoke"),
    Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
]
