"""The donor's "Import likes" pages: upload a data export, watch it being read, see what it
holds, confirm (its likes of the open month count) or cancel."""

from __future__ import annotations

from typing import BinaryIO
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.auth import AccountUser, checked_form, current_user
from server.context import context
from server.domain_errors import ServiceError, Unauthorized, ValidationFailed
from server.errors import status_of
from server.imports import forms, pages
from server.imports.uploads import MAX_UPLOAD_BYTES

PATH = "/settings/imports"
UPLOAD_PATH = PATH + "/upload"
UPLOAD_LIMIT = MAX_UPLOAD_BYTES + 64 * 1024  # the file and the form around it
NOTICE = "imports_notice"


def _user(request: Request) -> AccountUser:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user


def _login(request: Request) -> Response:
    return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)


def _render(
    request: Request,
    page: pages.ImportsPage | None = None,
    batch: pages.BatchView | None = None,
    error: ServiceError | None = None,
) -> Response:
    values: dict[str, object] = {
        "notice": request.session.pop(NOTICE, ""),
        "page": page,
        "batch": batch,
        "error": error,
        "max_mib": MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    response: Response = context(request).templates.TemplateResponse(
        request, "settings_imports.html", values, status_code=status_of(error) if error else 200
    )
    return response


def _to_batch(request: Request, batch_id: int, notice: str = "") -> Response:
    if notice:
        request.session[NOTICE] = notice
    return RedirectResponse(f"{PATH}/{batch_id}", status_code=303)


async def show(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    return _render(request, await pages.imports_page(context(request).db, _user(request).id))


async def upload(request: Request) -> Response:
    form = await checked_form(request)
    try:
        return await _upload(request, form.get("network", ""), form.get("file"))
    finally:
        await form.close()  # the spooled upload, copied by now


async def _upload(request: Request, network: object, file: object) -> Response:
    app = context(request)
    if not isinstance(file, UploadFile) or not file.filename:
        error = ValidationFailed("choose the export file or zip to upload", field="file")
        return _render(request, await pages.imports_page(app.db, _user(request).id), error=error)
    source: BinaryIO = file.file
    outcome = await forms.upload(
        app.db, app.settings, _user(request).id, str(network), file.filename, source
    )
    if outcome.done is None:
        return _render(request, outcome.page, error=outcome.error)
    return _to_batch(request, int(outcome.done.id or 0))


async def batch(request: Request) -> Response:
    if current_user(request) is None:
        return _login(request)
    batch_id = int(request.path_params["batch_id"])
    shown = await pages.batch_page(context(request).db, _user(request).id, batch_id)
    return _render(request, batch=shown)


async def progress(request: Request) -> Response:
    batch_id = int(request.path_params["batch_id"])
    found = await pages.progress(context(request).db, _user(request).id, batch_id)
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


async def confirm(request: Request) -> Response:
    await checked_form(request)
    app = context(request)
    batch_id = int(request.path_params["batch_id"])
    outcome = await forms.confirm(app.db, app.settings, _user(request).id, batch_id)
    if outcome.done is None:
        return _render(request, batch=outcome.page, error=outcome.error)
    counted = outcome.done.counted
    return _to_batch(request, batch_id, f"Confirmed: {counted} like{'s' * (counted != 1)} counted.")


async def cancel(request: Request) -> Response:
    await checked_form(request)
    batch_id = int(request.path_params["batch_id"])
    outcome = await forms.cancel(context(request).db, _user(request).id, batch_id)
    if outcome.done is None:
        return _render(request, batch=outcome.page, error=outcome.error)
    return _to_batch(request, batch_id, "Cancelled: nothing of this import counts.")


routes = [
    Route(PATH, show, methods=["GET"]),
    Route(UPLOAD_PATH, upload, methods=["POST"]),
    Route(PATH + "/{batch_id:int}", batch, methods=["GET"]),
    Route(PATH + "/{batch_id:int}/progress", progress, methods=["GET"]),
    Route(PATH + "/{batch_id:int}/confirm", confirm, methods=["POST"]),
    Route(PATH + "/{batch_id:int}/cancel", cancel, methods=["POST"]),
]
