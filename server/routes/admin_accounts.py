"""The admin's users and wallets: every local account with its wallet and budget, searched
and paged by handle; one account's ledger history (a chart and its table); suspending or
reinstating it behind a confirmation. Forms post, then redirect (post/redirect/get)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import NotFound, ServiceError, ValidationFailed
from server.donations import admin_accounts
from server.errors import status_of
from server.money.amounts import format_money
from server.render.bars import balance_bars

PAGE = "/admin/accounts"
NOTICE_KEY = "accounts_notice"
ACTIONS = ("suspend", "reinstate")


def _money(request: Request) -> object:
    settings = context(request).settings
    return lambda value: format_money(value, settings)


def _before(text: str) -> int:
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ValidationFailed("'before' is a line number", field="before")
    return int(text)


async def accounts_page(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    search = request.query_params.get("q", "")
    after = request.query_params.get("after", "")
    found = await admin_accounts.list_accounts(app.db, app.settings, search, after)
    following = ""
    if found.next_after:
        following = f"{PAGE}?{urlencode({'q': found.query, 'after': found.next_after})}"
    values = {"found": found, "next_url": following, "money": _money(request)}
    response: Response = app.templates.TemplateResponse(request, "admin_accounts.html", values)
    return response


def _history_response(
    request: Request,
    history: admin_accounts.AccountHistory,
    error: ServiceError | None = None,
) -> Response:
    app = context(request)
    wallet = [line for line in history.lines if line.ledger == "wallet"]
    earnings = [line for line in history.lines if line.ledger != "wallet"]
    chart = balance_bars([(line.what, line.amount) for line in wallet])
    older = ""
    if history.next_before:
        older = f"{PAGE}/{history.account.username}?before={history.next_before}"
    values = {
        "history": history,
        "chart": chart,
        "wallet_rows": list(zip(chart.bars, wallet, strict=True)),
        "earnings": earnings,
        "older_url": older,
        "notice": request.session.pop(NOTICE_KEY, ""),
        "error": error,
        "money": _money(request),
    }
    status = status_of(error) if error else 200
    response: Response = app.templates.TemplateResponse(
        request, "admin_accounts_history.html", values, status_code=status
    )
    return response


async def account_page(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    username = request.path_params["username"]
    before = _before(request.query_params.get("before", ""))
    history = await admin_accounts.account_history(app.db, app.settings, username, before)
    return _history_response(request, history)


async def suspend(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    await checked_form(request)
    username, action = request.path_params["username"], request.path_params["action"]
    if action not in ACTIONS:
        raise NotFound(f"no action {action!r} on an account")
    suspended = action == "suspend"
    outcome = await admin_accounts.suspend_or_page(
        app.db, app.settings, username, suspended=suspended
    )
    if outcome.page is not None:
        return _history_response(request, outcome.page, outcome.error)
    assert outcome.done is not None
    verb = "suspended: they cannot log in" if suspended else "active again"
    request.session[NOTICE_KEY] = f"@{outcome.done.username} is {verb}."
    return RedirectResponse(f"{PAGE}/{outcome.done.username}", status_code=303)


routes = [
    Route(PAGE, accounts_page, methods=["GET"]),
    Route(PAGE + "/{username:str}", account_page, methods=["GET"]),
    Route(PAGE + "/{username:str}/{action:str}", suspend, methods=["POST"]),
]
