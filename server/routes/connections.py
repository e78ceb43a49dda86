"""The donor's "Connected accounts" pages: connect an account on another network (and come
back from it), pause, resume, disconnect, and see what each like there became."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import AccountUser, checked_form, current_user, require_admin
from server.connections import accounts, forms, pages, usage
from server.connections.networks import Networks
from server.context import context
from server.domain_errors import ServiceError, Unauthorized
from server.errors import status_of
from server.models.base import utcnow

PATH = "/settings/connections"
NOTICE = "settings_notice"


def _user(request: Request) -> AccountUser:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user


def _networks(request: Request) -> Networks:
    app = context(request)
    return Networks(app.settings, app.http, db=app.db)


def _login(request: Request) -> Response:
    """To the log-in page, then back here with the query (an OAuth callback's code and state)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def _render(
    request: Request,
    page: pages.ConnectionsPage | None,
    *,
    error: ServiceError | None = None,
    proof: accounts.Proof | None = None,
) -> Response:
    values: dict[str, object] = {
        "notice": request.session.pop(NOTICE, ""),
        "page": page,
        "error": error,
        "proof": proof,
    }
    status = status_of(error) if error else 200
    response: Response = context(request).templates.TemplateResponse(
        request, "settings_connections.html", values, status_code=status
    )
    return response


def _done(request: Request, notice: str) -> Response:
    request.session[NOTICE] = notice
    return RedirectResponse(PATH, status_code=303)


async def show(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    page = await pages.connections_page(context(request).db, _networks(request), _user(request).id)
    return _render(request, page)


async def connect(request: Request) -> Response:
    form = await checked_form(request)
    app = context(request)
    outcome = await forms.connect(
        app.db,
        app.settings,
        _networks(request),
        _user(request).id,
        str(form.get("network", "")),
        str(form.get("handle", "")),
        str(form.get("purpose", "connect")),
    )
    if outcome.done is None:
        return _render(request, outcome.page, error=outcome.error)
    return RedirectResponse(outcome.done.redirect_to, status_code=303)


async def _finish(request: Request, callback: Mapping[str, str]) -> Response:
    app = context(request)
    network = str(request.path_params["network"])
    outcome = await forms.finish(
        app.db, app.settings, _networks(request), _user(request).id, network, callback
    )
    if outcome.done is None:
        return _render(request, outcome.page, error=outcome.error)
    finished = outcome.done
    if finished.claim_only:
        aside = "what supporters set aside for it is in your balance"
        return _done(request, f"{finished.handle} is yours as a creator: {aside}.")
    return _done(request, f"{finished.handle} is connected: its likes count from now on.")


async def callback(request: Request) -> Response:
    """Where an OAuth network sends the donor back (its `state` ties it to their attempt)."""
    if current_user(request) is None:
        return _login(request)
    return await _finish(request, {k: v[:2048] for k, v in request.query_params.items()})


async def proof_checked(request: Request) -> Response:
    form = await checked_form(request)
    fields = {k: v[:2048] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    return await _finish(request, fields)


async def proof(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    app = context(request)
    shown = await accounts.proof_page(
        app.db,
        app.settings,
        _networks(request),
        _user(request).id,
        str(request.path_params["network"]),
        request.query_params.get("state", "")[:256],
    )
    return _render(request, None, proof=shown)


async def pause(request: Request) -> Response:
    await checked_form(request)
    connection_id = int(request.path_params["connection_id"])
    handle = await accounts.pause(context(request).db, _user(request).id, connection_id)
    return _done(request, f"{handle} is paused: likes given there do not count.")


async def resume(request: Request) -> Response:
    await checked_form(request)
    connection_id = int(request.path_params["connection_id"])
    handle = await accounts.resume(context(request).db, _user(request).id, connection_id)
    return _done(request, f"{handle} counts again.")


async def disconnect(request: Request) -> Response:
    await checked_form(request)
    connection_id = int(request.path_params["connection_id"])
    handle = await accounts.disconnect(context(request).db, _user(request).id, connection_id)
    return _done(request, f"{handle} is disconnected; its access is deleted here.")


async def admin_networks(request: Request) -> Response:
    """The admin's view of each network: accounts, the last day's polls, errors and rate-limit
    waits, and a pay-per-read network's budget."""
    require_admin(request)
    app = context(request)
    rows = await usage.usage(app.db, _networks(request).on_offer(), utcnow())
    response: Response = app.templates.TemplateResponse(
        request, "admin_networks.html", {"networks": rows}
    )
    return response


routes = [
    Route("/admin/networks", admin_networks, methods=["GET"]),
    Route(PATH, show, methods=["GET"]),
    Route(f"{PATH}/connect", connect, methods=["POST"]),
    Route(PATH + "/{network:str}/callback", callback, methods=["GET"]),
    Route(PATH + "/{network:str}/callback", proof_checked, methods=["POST"]),
    Route(PATH + "/{network:str}/proof", proof, methods=["GET"]),
    Route(PATH + "/{connection_id:int}/pause", pause, methods=["POST"]),
    Route(PATH + "/{connection_id:int}/resume", resume, methods=["POST"]),
    Route(PATH + "/{connection_id:int}/disconnect", disconnect, methods=["POST"]),
]
