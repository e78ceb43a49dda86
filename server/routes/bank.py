"""The admin's bank page: upload a statement, its preview, confirm or cancel it, assign an
unmatched credit or mark it returned to its payer. Every form redirects after its POST; the
notice rides in the session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import ServiceError
from server.donations import bank_admin
from server.errors import status_of
from server.money.amounts import format_money

PAGE = "/admin/money/bank"
NOTICE_KEY = "bank_notice"


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    settings = context(request).settings
    full: dict[str, Any] = {"money": lambda value: format_money(value, settings), **values}
    response: Response = context(request).templates.TemplateResponse(
        request, name, full, status_code=status
    )
    return response


def _page(
    request: Request,
    page: bank_admin.BankPage,
    error: ServiceError | None = None,
    entered: Mapping[str, str] | None = None,
) -> Response:
    values = {
        "waiting": page.waiting,
        "imports": page.imports,
        "returned": page.returned,
        "confirm_return": bank_admin.CONFIRM_RETURN,
        "error": error,
        "entered": entered or {},
        "notice": request.session.pop(NOTICE_KEY, ""),
    }
    return _render(request, "admin_bank.html", values, status_of(error) if error else 200)


def _done(request: Request, notice: str, to: str = PAGE) -> Response:
    request.session[NOTICE_KEY] = notice
    return RedirectResponse(to, status_code=303)


async def bank_page(request: Request) -> Response:
    require_admin(request)
    return _page(request, await bank_admin.bank_page(context(request).db))


async def upload(request: Request) -> Response:
    user = require_admin(request)
    app = context(request)
    form = await checked_form(request)
    file = form.get("statement")
    chosen = file if isinstance(file, UploadFile) and file.filename else None
    try:
        data = await chosen.read() if chosen else b""
    finally:
        await form.close()
    name = chosen.filename or "" if chosen else ""  # "": nothing chosen, refused
    statement = bank_admin.StatementFile(name, data, user.id)
    outcome = await bank_admin.import_statement_or_page(app.db, app.settings, statement)
    if outcome.done is None:
        assert outcome.page is not None
        return _page(request, outcome.page, outcome.error)
    return RedirectResponse(f"{PAGE}/{outcome.done}", status_code=303)


async def preview(request: Request) -> Response:
    require_admin(request)
    import_id = int(request.path_params["import_id"])
    shown = await bank_admin.import_preview(context(request).db, import_id)
    values = {"preview": shown, "notice": request.session.pop(NOTICE_KEY, "")}
    return _render(request, "admin_bank_preview.html", values)


async def confirm(request: Request) -> Response:
    user = require_admin(request)
    app = context(request)
    await checked_form(request)
    import_id = int(request.path_params["import_id"])
    outcome = await bank_admin.confirm_import_or_page(app.db, app.settings, import_id, user.id)
    done = outcome.done
    if done is None:
        assert outcome.page is not None
        return _page(request, outcome.page, outcome.error)
    if done.again:
        return _done(request, f"Import {import_id} was confirmed before; nothing more booked.")
    money = format_money(done.amount, app.settings)
    return _done(
        request,
        f"Import {import_id}: booked {done.booked} credit(s), {money}; "
        f"{done.unmatched} unmatched to assign; {done.duplicates} already imported."
        + (f" {len(done.settled)} peer payment(s) confirmed." if done.settled else ""),
    )


async def cancel(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    await checked_form(request)
    import_id = int(request.path_params["import_id"])
    outcome = await bank_admin.cancel_import_or_page(app.db, import_id)
    if outcome.page is not None:
        return _page(request, outcome.page, outcome.error)
    return _done(request, f"Import {import_id} cancelled; nothing was booked.")


async def assign(request: Request) -> Response:
    user = require_admin(request)
    app = context(request)
    form = await checked_form(request)
    credit_id = int(request.path_params["credit_id"])
    username = str(form.get("username", ""))
    outcome = await bank_admin.assign_credit_or_page(
        app.db, app.settings, credit_id, username, user.id
    )
    done = outcome.done
    if done is None:
        assert outcome.page is not None
        entered = {"credit_id": str(credit_id), "username": username}
        return _page(request, outcome.page, outcome.error, entered)
    money = format_money(done.credit.amount, app.settings)
    if not done.created:
        return _done(request, f"Credit {credit_id} was booked before; nothing more moved.")
    return _done(request, f"Credited {money} to @{done.username} (bank credit {credit_id}).")


async def return_credit(request: Request) -> Response:
    user = require_admin(request)
    app = context(request)
    form = await checked_form(request)
    credit_id = int(request.path_params["credit_id"])
    sent = form.get("sent") == "yes"
    outcome = await bank_admin.return_credit_or_page(app.db, credit_id, sent, user.id)
    done = outcome.done
    if done is None:
        assert outcome.page is not None
        entered = {"credit_id": str(credit_id), "returning": "yes"}
        return _page(request, outcome.page, outcome.error, entered)
    if not done.created:
        return _done(request, f"Credit {credit_id} was marked returned before; nothing changed.")
    money = format_money(done.credit.amount, app.settings)
    return _done(
        request,
        f"Bank credit {credit_id} ({money} from {done.credit.debtor_name or 'an unnamed payer'}) "
        "marked returned; nothing was booked.",
    )


routes = [
    Route(PAGE, bank_page, methods=["GET"]),
    Route(f"{PAGE}/upload", upload, methods=["POST"]),
    Route(PAGE + "/{import_id:int}", preview, methods=["GET"]),
    Route(PAGE + "/{import_id:int}/confirm", confirm, methods=["POST"]),
    Route(PAGE + "/{import_id:int}/cancel", cancel, methods=["POST"]),
    Route(PAGE + "/credits/{credit_id:int}/assign", assign, methods=["POST"]),
    Route(PAGE + "/credits/{credit_id:int}/return", return_credit, methods=["POST"]),
]
