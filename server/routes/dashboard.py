"""Donor and creator dashboards: wallet, budget, this month's clicks and their projected
shares (with a pie chart), history; creator balances, money waiting to be claimed,
supporters, payouts, the button."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_user
from server.context import context
from server.domain_errors import ServiceError, Unauthorized
from server.donations import dashboard
from server.errors import status_of
from server.escrow.escrow import Claim
from server.money.amounts import format_money
from server.money.forms import new_form_key
from server.money.funding.bank import bank_reference
from server.render.bars import StackedChart, stacked_bars
from server.render.pie import pie_slices
from server.settings import Settings

CREATOR_NOTICE = "creator_notice"
DONOR_NOTICE = "donor_notice"
GUIDE_DISMISSED = "money_guide_dismissed"  # the first-visit guide, closed for this login
HISTORY_PARTS = ("got", "waiting", "returned", "fee")


def _user_id(request: Request) -> int:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user.id


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    settings = context(request).settings
    full: dict[str, Any] = {
        "money": lambda value: format_money(value, settings),
        **values,
    }
    response: Response = context(request).templates.TemplateResponse(
        request, name, full, status_code=status
    )
    return response


def _history_chart(page: dashboard.DonorPage) -> StackedChart:
    """One bar per closed month: what reached creators (or the account given a month
    without likes), what waits in escrow, what came back, the instance's fee."""
    return stacked_bars(
        [
            (
                month.period,
                list(
                    zip(
                        HISTORY_PARTS,
                        (month.got + month.unspent, month.waiting, month.returned, month.fee),
                        strict=True,
                    )
                ),
            )
            for month in page.history
            if month.closed and month.spent
        ]
    )


def _donor_page(
    request: Request,
    page: dashboard.DonorPage,
    error: ServiceError | None = None,
    entered: Mapping[str, str] | None = None,
) -> Response:
    donor = page.donor
    slices = pie_slices([(click.title or click.uri, click.share) for click in donor.clicks])
    settings = context(request).settings
    values = {
        "donor": donor,
        "outlook": page.outlook,
        "guide": page.guide,
        "show_guide": not page.guide.done and not request.session.get(GUIDE_DISMISSED),
        "history": page.history,
        "history_chart": _history_chart(page),
        "slices": slices,
        "error": error,
        "entered": entered or {},
        "notice": request.session.pop(DONOR_NOTICE, ""),
        "bank": settings.bank,
        "payment_reference": bank_reference(donor.settings.account_id) if settings.bank else "",
    }
    return _render(request, "dashboard.html", values, status_of(error) if error else 200)


async def donor_page(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    app, who = context(request), _user_id(request)
    return _donor_page(request, await dashboard.donor_page(app.db, app.settings, who))


async def dismiss_guide(request: Request) -> Response:
    _user_id(request)
    await checked_form(request)
    request.session[GUIDE_DISMISSED] = True
    return RedirectResponse("/money", status_code=303)


async def save_budget(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    form = await checked_form(request)
    budget = dashboard.BudgetForm(
        monthly_budget=str(form.get("monthly_budget", "")),
        paused=form.get("paused") == "on",
        anonymous=form.get("anonymous") == "on",
    )
    outcome = await dashboard.save_budget_or_page(app.db, app.settings, who, budget)
    if outcome.page is not None:
        entered = {"monthly_budget": budget.monthly_budget}
        return _donor_page(request, outcome.page, outcome.error, entered)
    request.session[DONOR_NOTICE] = "Your budget is saved."
    return RedirectResponse("/money", status_code=303)


async def unclick(request: Request) -> Response:
    who = _user_id(request)
    await checked_form(request)
    await dashboard.remove_click(context(request).db, who, int(request.path_params["click_id"]))
    return RedirectResponse("/money", status_code=303)


def _creator_page(
    request: Request,
    page: dashboard.CreatorDashboard,
    error: ServiceError | None = None,
    named: str | None = None,
    entered: Mapping[str, str] | None = None,
) -> Response:
    peer_chart = stacked_bars(
        [
            (row.domain, [("available", row.available), ("pending", row.pending)])
            for row in page.by_peer
        ]
    )
    values = {
        "creator": page.creator,
        "by_peer": page.by_peer,
        "peer_chart": peer_chart,
        "waiting": page.waiting,
        "received": page.received,
        "linked": page.linked,
        "profile_url": page.profile_url,
        "named": request.query_params.get("actor", "") if named is None else named,
        "notice": request.session.pop(CREATOR_NOTICE, ""),
        "error": error,
        "user": current_user(request),
        "entered": entered or {},
        # A refused form keeps its key: nothing was booked under it.
        "form_key": (entered or {}).get("form_key") or new_form_key(),
    }
    return _render(request, "creator.html", values, status_of(error) if error else 200)


def _here(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


async def creator_page(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse(f"/login?{urlencode({'next': _here(request)})}", status_code=303)
    app, who = context(request), _user_id(request)
    return _creator_page(request, await dashboard.creator_dashboard(app.db, app.settings, who))


async def ask_payout(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    form = await checked_form(request)
    entered = {key: str(form.get(key, "")) for key in ("amount", "iban", "name", "bic")}
    entered["form_key"] = str(form.get("form_key", ""))
    wanted = dashboard.PayoutForm(**entered)
    outcome = await dashboard.ask_payout_or_page(app.db, app.settings, who, wanted)
    if outcome.page is not None:
        return _creator_page(request, outcome.page, outcome.error, entered=entered)
    request.session[CREATOR_NOTICE] = (
        "Payout requested: an admin approves it."
        if outcome.done
        else "That payout was already requested; nothing more was held."
    )
    return RedirectResponse("/money/creator", status_code=303)


async def claim(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    await checked_form(request)
    identity_id = int(request.path_params["identity_id"])
    outcome = await dashboard.claim_waiting_or_page(app.db, app.settings, who, identity_id)
    if outcome.done is None:
        assert outcome.page is not None
        return _creator_page(request, outcome.page, outcome.error)
    request.session[CREATOR_NOTICE] = _claim_notice(outcome.done, app.settings)
    return RedirectResponse("/money/creator", status_code=303)


async def claim_account(request: Request) -> Response:
    app, who = context(request), _user_id(request)
    settings = app.settings
    form = await checked_form(request)
    named = str(form.get("actor", ""))
    remote = app.federation.remote
    outcome = await dashboard.claim_account_or_page(app.db, settings, remote, who, named)
    if outcome.done is None:
        assert outcome.page is not None
        return _creator_page(request, outcome.page, outcome.error, named)
    request.session[CREATOR_NOTICE] = _account_claim_notice(outcome.done, settings)
    return RedirectResponse("/money/creator", status_code=303)


def _account_claim_notice(done: Claim, settings: Settings) -> str:
    if done.already_claimed:
        return _claim_notice(done, settings)
    handle = done.identity.handle
    first = (
        _claim_notice(done, settings)
        if done.moved
        else f"{handle} is yours here now. Nothing was waiting for it yet; what supporters "
        "give it from now on reaches you."
    )
    return (
        f'{first} Your profile here now links to {handle} with rel="me"; save your profile '
        "there once more to have the link shown as verified."
    )


def _claim_notice(done: Claim, settings: Settings) -> str:
    if done.already_claimed and not done.moved:
        return "Already claimed: nothing more was waiting."
    money = format_money(done.moved, settings)
    return f"Claimed {money}; it is now in your available balance."


routes = [
    Route("/money", donor_page, methods=["GET"]),
    Route("/money/budget", save_budget, methods=["POST"]),
    Route("/money/clicks/{click_id:int}/remove", unclick, methods=["POST"]),
    Route("/money/guide/dismiss", dismiss_guide, methods=["POST"]),
    Route("/money/creator", creator_page, methods=["GET"]),
    Route("/money/payouts", ask_payout, methods=["POST"]),
    Route("/money/claims", claim_account, methods=["POST"]),
    Route("/money/claims/{identity_id:int}", claim, methods=["POST"]),
]
