"""The money API under /api/v1/likewise/ (documented in docs/api.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import current_account, current_user, require_scope
from server.context import context
from server.domain_errors import NotFound, ServiceError, Unauthorized, ValidationFailed
from server.donations.budget import update_donor_settings
from server.donations.clicks import remove_click_by_id
from server.donations.likes import canonical_url, clicks_on, like_url
from server.donations.summary import creator_summary, donor_summary
from server.errors import BadRequest, read_json
from server.escrow.claims import claim_fediverse_account
from server.escrow.escrow import claim_identity, waiting_for
from server.models import LedgerKind, Note
from server.money.amounts import amount_from_json
from server.money.ledger import Owner, balance_of
from server.money.payouts import PayoutRequest, list_payouts, request_payout
from server.render.money import (
    render_account_claim,
    render_budget,
    render_claim,
    render_click,
    render_me,
    render_payout,
    render_waiting,
)
from server.social.favourites import SOURCE_API, favourite
from server.social.interaction import resolve

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
    settings, who = context(request).settings, _user_id(request)
    async with context(request).db.session() as session:
        donor = await donor_summary(session, settings, who)
        creator = await creator_summary(session, settings, who)
    return JSONResponse(render_me(settings, donor, creator))


@require_scope("read")
async def clicks(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    async with context(request).db.session() as session:
        donor = await donor_summary(session, settings, who)
    return JSONResponse([render_click(settings, click) for click in donor.clicks])


@require_scope("write")
async def unclick(request: Request) -> Response:
    who = _user_id(request)
    async with context(request).db.transaction() as session:
        removed = await remove_click_by_id(session, who, int(request.path_params["click_id"]))
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
    settings, who = context(request).settings, _user_id(request)
    async with context(request).db.session() as session:
        donor = await donor_summary(session, settings, who)
    return JSONResponse(render_budget(settings, donor))


@require_scope("write")
async def set_budget(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = _only(await _object(request), BUDGET_KEYS)
    amount = None
    if "monthly_budget" in body:
        amount = amount_from_json(body["monthly_budget"], settings, field="monthly_budget")
    paused, anonymous = _flag(body, "paused"), _flag(body, "anonymous")
    async with context(request).db.transaction() as session:
        await update_donor_settings(
            session, settings, who, monthly_budget=amount, paused=paused, anonymous=anonymous
        )
    async with context(request).db.session() as session:
        donor = await donor_summary(session, settings, who)
    return JSONResponse(render_budget(settings, donor))


@require_scope("read")
async def payouts(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    async with context(request).db.session() as session:
        rows = await list_payouts(session, account_id=who)
    return JSONResponse([render_payout(settings, payout) for payout in rows])


@require_scope("write")
async def new_payout(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = _only(await _object(request), PAYOUT_KEYS)
    texts = {name: body.get(name, "") for name in ("iban", "name", "bic")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise ValidationFailed("iban, name and bic must be strings")
    amount = amount_from_json(body.get("amount"), settings)
    wanted = PayoutRequest(who, amount, texts["iban"], texts["name"], texts["bic"])
    async with context(request).db.transaction() as session:
        payout = await request_payout(session, settings, wanted)
    return JSONResponse(render_payout(settings, payout), status_code=201)


@require_scope("write")
async def likes(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = await _object(request)
    uri = body.get("uri")
    if not isinstance(uri, str):
        raise ValidationFailed("uri must be a URL string", field="uri")
    canonical_url(uri)  # refuses what no like may name (a user name, no host) before a fetch
    note = await _fediverse_note(request, uri)
    async with context(request).db.transaction() as session:
        if note is not None:
            account = await current_account(request)
            before = await clicks_on(session, who, note.uri)
            await favourite(session, settings, account, note, SOURCE_API)
            recorded = await clicks_on(session, who, note.uri) > before
            status = 201 if recorded else 200
            outcome = "recorded" if recorded else "already_liked"
            return JSONResponse({"outcome": outcome, "uri": note.uri}, status_code=status)
        outcome, thing = await like_url(session, settings, who, uri, source="client_api")
    status = 201 if outcome == "recorded" else 200
    return JSONResponse({"outcome": outcome.value, "uri": thing.uri}, status_code=status)


@require_scope("read")
async def claims(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    async with context(request).db.session() as session:
        waiting = await waiting_for(session, who)
    return JSONResponse([render_waiting(settings, row) for row in waiting])


@require_scope("write")
async def claim(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    identity_id = int(request.path_params["identity_id"])
    async with context(request).db.transaction() as session:
        done = await claim_identity(session, settings, identity_id, who)
        available = await balance_of(
            session, settings, Owner(LedgerKind.creator_available, account_id=who)
        )
    return JSONResponse(render_claim(settings, done, available))


@require_scope("write")
async def claim_account(request: Request) -> Response:
    settings, who = context(request).settings, _user_id(request)
    body = await _object(request)
    named = body.get("actor")
    if not isinstance(named, str) or not named.strip():
        raise ValidationFailed(
            "actor must name a fediverse account: @user@host or its URL", field="actor"
        )
    remote = context(request).federation.remote
    done = await claim_fediverse_account(context(request).db, settings, remote, who, named)
    async with context(request).db.session() as session:
        available = await balance_of(
            session, settings, Owner(LedgerKind.creator_available, account_id=who)
        )
    return JSONResponse(render_account_claim(settings, done, available))


async def _fediverse_note(request: Request, uri: str) -> Note | None:
    """A post on the fediverse behind `uri`, fetched and cached (its author is the creator,
    and liking it delivers a Like); None for anything else, which is liked as a web URL."""
    if not uri.startswith(("https://", "http://")):
        return None
    try:
        found = await resolve(context(request).federation.remote, uri)
    except ServiceError:
        return None
    return found.note


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
