"""Admin money pages: fund a donor's wallet; approve or reject payouts."""

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
from server.models import Payout
from server.money.amounts import format_money


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
    open_payouts: list[Payout],
    error: ServiceError | None = None,
    notice: str = "",
) -> Response:
    values = {"payouts": open_payouts, "error": error, "notice": notice}
    return _render(request, values, status_of(error) if error else 200)


async def admin_money(request: Request) -> Response:
    require_admin(request)
    return _page(request, await admin.open_payouts(context(request).db))


async def fund(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    form = await checked_form(request)
    wanted = admin.FundForm(
        username=str(form.get("username", "")),
        amount=str(form.get("amount", "")),
        reference=str(form.get("reference", "")),
    )
    outcome = await admin.fund_wallet_and_page(app.db, app.settings, wanted)
    assert outcome.page is not None
    done = outcome.done
    if done is None:
        return _page(request, outcome.page, outcome.error)
    verb = "Credited" if done.created else "Already credited"
    notice = f"{verb} {format_money(done.amount, app.settings)} to @{done.username}."
    return _page(request, outcome.page, notice=notice)


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
    return RedirectResponse("/admin/money", status_code=303)


routes = [
    Route("/admin/money", admin_money, methods=["GET"]),
    Route("/admin/money/fund", fund, methods=["POST"]),
    Route("/admin/payouts/{payout_id:int}/{decision:str}", decide, methods=["POST"]),
]
