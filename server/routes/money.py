"""Admin money pages: fund a donor's wallet; approve or reject payouts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.accounts.accounts import get_account
from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import ServiceError
from server.errors import status_of
from server.money.amounts import format_money, parse_amount
from server.money.funding import Funding, credit_wallet
from server.money.payouts import approve_payout, list_payouts, reject_payout


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


async def _page(request: Request, error: ServiceError | None = None, notice: str = "") -> Response:
    require_admin(request)
    async with context(request).db.session() as session:
        open_payouts = [
            p for p in await list_payouts(session) if p.state in ("requested", "approved")
        ]
    values = {"payouts": open_payouts, "error": error, "notice": notice}
    return _render(request, values, status_of(error) if error else 200)


async def admin_money(request: Request) -> Response:
    return await _page(request)


async def fund(request: Request) -> Response:
    require_admin(request)
    settings = context(request).settings
    form = await checked_form(request)
    try:
        amount = parse_amount(str(form.get("amount", "")), settings)
        async with context(request).db.transaction() as session:
            account = await get_account(session, str(form.get("username", "")))
            funding = Funding(int(account.id or 0), amount, str(form.get("reference", "")).strip())
            _, created = await credit_wallet(session, settings, funding)
    except ServiceError as exc:
        return await _page(request, exc)
    verb = "Credited" if created else "Already credited"
    notice = f"{verb} {format_money(amount, settings)} to @{account.username}."
    return await _page(request, notice=notice)


async def decide(request: Request) -> Response:
    require_admin(request)
    form = await checked_form(request)
    payout_id = int(request.path_params["payout_id"])
    try:
        async with context(request).db.transaction() as session:
            if request.path_params["decision"] == "approve":
                await approve_payout(session, payout_id)
            else:
                note = str(form.get("note", ""))
                await reject_payout(session, context(request).settings, payout_id, note)
    except ServiceError as exc:
        return await _page(request, exc)
    return RedirectResponse("/admin/money", status_code=303)


routes = [
    Route("/admin/money", admin_money, methods=["GET"]),
    Route("/admin/money/fund", fund, methods=["POST"]),
    Route("/admin/payouts/{payout_id:int}/{decision:str}", decide, methods=["POST"]),
]
