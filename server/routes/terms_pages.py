"""The terms of service and the privacy policy: read by everyone at /terms and /privacy,
written by the admin at /admin/terms."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import ServiceError
from server.errors import BadRequest, status_of
from server.social import instance_texts
from server.social.instance_texts import TextsForm

ADMIN_PAGE = "/admin/terms"
NOTICE = "terms_notice"


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    response: Response = context(request).templates.TemplateResponse(
        request, name, dict(values), status_code=status
    )
    return response


async def _instance_page(request: Request, kind: str) -> Response:
    app = context(request)
    page = await instance_texts.instance_page(app.db, app.settings, kind)
    return _render(request, "instance_text.html", {"page": page})


async def terms(request: Request) -> Response:
    return await _instance_page(request, "terms")


async def privacy(request: Request) -> Response:
    return await _instance_page(request, "privacy")


def _admin_page(request: Request, form: TextsForm, error: ServiceError | None = None) -> Response:
    values = {
        "form": form,
        "error": error,
        "notice": request.session.pop(NOTICE, ""),
        "limit": instance_texts.MAX_CHARACTERS,
    }
    return _render(request, "admin_terms.html", values, status_of(error) if error else 200)


async def admin_texts(request: Request) -> Response:
    require_admin(request)
    return _admin_page(request, await instance_texts.texts_form(context(request).db))


async def save_texts(request: Request) -> Response:
    user = require_admin(request)
    form = await checked_form(request)
    if "terms" not in form or "privacy" not in form:  # an empty form clears neither text
        raise BadRequest("the form holds the terms and the privacy text")
    typed = TextsForm(terms=str(form.get("terms", "")), privacy=str(form.get("privacy", "")))
    outcome = await instance_texts.save_texts_or_page(context(request).db, user.id, typed)
    if outcome.page is not None:
        return _admin_page(request, outcome.page, outcome.error)
    request.session[NOTICE] = "The terms of service and the privacy policy are saved."
    return RedirectResponse(ADMIN_PAGE, status_code=303)


routes = [
    Route("/terms", terms, methods=["GET"]),
    Route("/privacy", privacy, methods=["GET"]),
    Route(ADMIN_PAGE, admin_texts, methods=["GET"]),
    Route(ADMIN_PAGE, save_texts, methods=["POST"]),
]
