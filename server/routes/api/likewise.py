"""The money API under /api/v1/likewise/ (documented in docs/api.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import current_account, current_user, require_scope
from server.context import context
from server.domain_errors import NotFound, Unauthorized, ValidationFailed
from server.donations import dashboard
from server.errors import BadRequest, read_json
from server.money.amounts import amount_from_json
from server.money.payouts import PayoutRequest
from server.render.money import (
    render_account_claim,
    render_budget,
    render_claim,
    render_click,
    render_me,
    render_payout,
    render_waiting,
)

PREFIX = "/api/v1/likewise"


def _user_id(request: Request) -> int:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user.id


async def _object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


@require_scope("read")
async def me(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    found = await dashboard.summaries(app.db, app.settings, who)
    return JSONResponse(render_me(app.settings, found.donor, found.creator))


@require_scope("read")
async def clicks(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    donor = await dashboard.donor_dashboard(app.db, app.settings, who)
    return JSONResponse([render_click(app.settings, click) for click in donor.clicks])


@require_scope("write")
async def unclick(request: Request) -> Response:
    who = _user_id(request)
    removed = await dashboard.remove_click(
        context(request).db, who, int(request.path_params["click_id"])
    )
    if not removed:
        raise NotFound("no such click of yours in a period that is still open")
    return Response(status_code=204)


BUDGET_KEYS = frozenset({"monthly_budget", "paused", "anonymous"})
PAYOUT_KEYS = frozenset({"amount", "iban", "name", "bic"})


def _only(body: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """A money request names only fields it knows: a misspelt one would be ignored."""
    unknown = sorted(str(key)[:40] for key in body if key not in known)
    if unknown:
        raise ValidationFailed(
            f"unknown fields: {', '.join(unknown[:5])} (known: {', '.join(sorted(known))})",
            field=unknown[0],
        )
    return body


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed(f"{name} must be true or false", field=name)
    return value


@require_scope("read")
async def budget(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    donor = await dashboard.donor_dashboard(app.db, app.settings, who)
    return JSONResponse(render_budget(app.settings, donor))


@require_scope("write")
async def set_budget(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = _only(await _object(request), BUDGET_KEYS)
    amount = None
    if "monthly_budget" in body:
        amount = amount_from_json(body["monthly_budget"], settings, field="monthly_budget")
    change = dashboard.BudgetChange(amount, _flag(body, "paused"), _flag(body, "anonymous"))
    donor = await dashboard.change_budget(context(request).db, settings, who, change)
    return JSONResponse(render_budget(settings, donor))


@require_scope("read")
async def payouts(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    rows = await dashboard.payouts_of(app.db, who)
    return JSONResponse([render_payout(app.settings, payout) for payout in rows])


@require_scope("write")
async def new_payout(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = _only(await _object(request), PAYOUT_KEYS)
    texts = {name: body.get(name, "") for name in ("iban", "name", "bic")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise ValidationFailed("iban, name and bic must be strings")
    amount = amount_from_json(body.get("amount"), settings)
    wanted = PayoutRequest(who, amount, texts["iban"], texts["name"], texts["bic"])
    payout = await dashboard.new_payout(context(request).db, settings, wanted)
    return JSONResponse(render_payout(settings, payout), status_code=201)


@require_scope("write")
async def likes(request: Request) -> Response:
    _user_id(request)
    body = await _object(request)
    uri = body.get("uri")
    if not isinstance(uri, str):
        raise ValidationFailed("uri must be a URL string", field="uri")
    account = await current_account(request)
    app = context(request)
    liked = await dashboard.like(app.db, app.settings, app.federation.remote, account, uri)
    status = 201 if liked.recorded else 200
    return JSONResponse({"outcome": liked.outcome, "uri": liked.uri}, status_code=status)


@require_scope("read")
async def claims(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    waiting = await dashboard.waiting_claims(app.db, who)
    return JSONResponse([render_waiting(app.settings, row) for row in waiting])


@require_scope("write")
async def claim(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    identity_id = int(request.path_params["identity_id"])
    done = await dashboard.claim_with_balance(context(request).db, settings, who, identity_id)
    return JSONResponse(render_claim(settings, done.claim, done.available))


@require_scope("write")
async def claim_account(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = await _object(request)
    named = body.get("actor")
    if not isinstance(named, str) or not named.strip():
        raise ValidationFailed(
            "actor must name a fediverse account: @user@host or its URL", field="actor"
        )
    app = context(request)
    done = await dashboard.claim_account_with_balance(
        app.db, settings, app.federation.remote, who, named
    )
    return JSONResponse(render_account_claim(settings, done.claim, done.available))


routes = [
    Route(f"{PREFIX}/me", me, methods=["GET"]),
    Route(f"{PREFIX}/clicks", clicks, methods=["GET"]),
    Route(f"{PREFIX}/clicks/{{click_id:int}}", unclick, methods=["DELETE"]),
    Route(f"{PREFIX}/budget", budget, methods=["GET"]),
    Route(f"{PREFIX}/budget", set_budget, methods=["PUT", "POST"]),
    Route(f"{PREFIX}/payouts", payouts, methods=["GET"]),
    Route(f"{PREFIX}/payouts", new_payout, methods=["POST"]),
    Route(f"{PREFIX}/likes", likes, methods=["POST"]),
    Route(f"{PREFIX}/claims", claims, methods=["GET"]),
    Route(f"{PREFIX}/claims", claim_account, methods=["POST"]),
    Route(f"{PREFIX}/claims/{{identity_id:int}}", claim, methods=["POST"]),
]
