"""The settlement round from the admin's pages: a form on /admin/money starts the month
close, the SEPA export or a batch's confirmation as a worker job
(server/donations/admin_runs.py) and lands on the run's page, which shows its progress and
result; the exported SEPA file is downloaded from its batch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import NotFound
from server.donations import admin, admin_runs
from server.money.amounts import format_money, parse_id
from server.routes.money import render_money_page

PAGE = "/admin/runs"


def _form(fields: dict[str, str]) -> admin_runs.RunForm:
    action = fields.get("action", "")
    batch = fields.get("batch_id", "")
    return admin_runs.RunForm(
        action=action,
        form_key=fields.get("form_key", ""),
        period=fields.get("period", ""),
        force=fields.get("force", "") == "yes",
        debtor_name=fields.get("debtor_name", ""),
        debtor_iban=fields.get("debtor_iban", ""),
        debtor_bic=fields.get("debtor_bic", ""),
        batch_id=parse_id(batch, field="batch_id") if action == "confirm" else 0,
    )


async def start(request: Request) -> Response:
    user = require_admin(request)
    app = context(request)
    form = await checked_form(request)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if fields.get("action", "") not in admin_runs.ACTIONS:
        raise NotFound("no such run")
    outcome = await admin.start_run_or_page(app.db, app.settings, user.id, _form(fields))
    if outcome.page is not None:
        return render_money_page(request, outcome.page, outcome.error)
    return RedirectResponse(f"{PAGE}/{outcome.done}", status_code=303)


async def run_page(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    status = await admin_runs.run_status(app.db, int(request.path_params["job_id"]))
    values = {"run": status, "money": lambda value: format_money(value, app.settings)}
    response: Response = app.templates.TemplateResponse(request, "admin_run.html", values)
    return response


async def sepa_file(request: Request) -> Response:
    require_admin(request)
    batch_id = int(request.path_params["batch_id"])
    batch = await admin_runs.batch_document(context(request).db, batch_id)
    return Response(
        batch.document,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="payouts-{batch_id}.xml"'},
    )


routes = [
    Route(PAGE, start, methods=["POST"]),
    Route(PAGE + "/{job_id:int}", run_page, methods=["GET"]),
    Route("/admin/payouts/batches/{batch_id:int}/sepa.xml", sepa_file, methods=["GET"]),
]
