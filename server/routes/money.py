"""Admin money pages: fund a donor's wallet, recent credits; approve or reject payouts; the
settlement round's forms (server/routes/admin_runs.py runs them); the instance's loss.

Every form posts, then redirects (post/redirect/get): the notice travels in the session,
so a reload repeats nothing. A refused form is shown again with what was typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import ServiceError
from server.donations import admin
from server.errors import status_of
from server.money.amounts import format_money
from server.money.forms import new_form_key

PAGE = "/admin/money"
NOTICE_KEY = "money_notice"


def _render(request: Request, values: Mapping[str, object], status: int = 200) -> Response:
    settings = context(request).settings
    full: dict[str, Any] = {
        "money": lambda value: format_money(value, settings),
        **values,
    }
    response: Response = context(request).templates.TemplateResponse(
        request, "admin_money.html", full, status_code=status
    )
    return response


def _page(
    request: Request,
    page: admin.MoneyPage,
    error: ServiceError | None = None,
    entered: Mapping[str, str] | None = None,
) -> Response:
    entered = dict(entered or {})
    settings = context(request).settings
    values = {
        "payouts": page.payouts,
        "credits": page.credits,
        "batches": page.batches,
        "approved": page.approved,
        "loss": page.loss,
        "loss_lines": page.loss_lines,
        "bank": settings.bank,
        # One key per run form: a double submit of one form starts its run once.
        "run_keys": {name: new_form_key() for name in ("close", "export")},
        "confirm_keys": {row.batch.id: new_form_key() for row in page.batches},
        "error": error,
        "notice": request.session.pop(NOTICE_KEY, ""),
        "entered": entered,
        # A refused form keeps its key: nothing was booked under it.
        "form_key": entered.get("form_key") or new_form_key(),
    }
    return _render(request, values, status_of(error) if error else 200)


def render_money_page(
    request: Request, page: admin.MoneyPage, error: ServiceError | None
) -> Response:
    """The money page showing a refusal of one of its forms (the runs' forms among them)."""
    return _page(request, page, error)


def _done(request: Request, notice: str) -> Response:
    request.session[NOTICE_KEY] = notice
    return RedirectResponse(PAGE, status_code=303)


async def admin_money(request: Request) -> Response:
    require_admin(request)
    return _page(request, await admin.money_page(context(request).db))


async def fund(request: Request) -> Response:
    user = require_admin(request)
    app = context(request)
    form = await checked_form(request)
    entered = {key: str(form.get(key, "")) for key in ("username", "amount", "reference")}
    entered["form_key"] = str(form.get("form_key", ""))
    wanted = admin.FundForm(**entered)
    outcome = await admin.fund_wallet_or_page(app.db, app.settings, user.id, wanted)
    done = outcome.done
    if done is None:
        assert outcome.page is not None
        return _page(request, outcome.page, outcome.error, entered)
    verb = "Credited" if done.created else "Already credited"
    return _done(request, f"{verb} {format_money(done.amount, app.settings)} to @{done.username}.")


async def decide(request: Request) -> Response:
    require_admin(request)
    form = await checked_form(request)
    payout_id = int(request.path_params["payout_id"])
    approve, note = request.path_params["decision"] == "approve", str(form.get("note", ""))
    app = context(request)
    outcome = await admin.decide_payout_or_page(
        app.db, app.settings, payout_id, approve=approve, note=note
    )
    if outcome.page is not None:
        return _page(request, outcome.page, outcome.error)
    return _done(request, f"Payout {payout_id} {'approved' if approve else 'rejected'}.")


routes = [
    Route(PAGE, admin_money, methods=["GET"]),
    Route(f"{PAGE}/fund", fund, methods=["POST"]),
    Route("/admin/payouts/{payout_id:int}/{decision:str}", decide, methods=["POST"]),
]
