"""The profile settings page: display name, bio, avatar, header, profile fields (where a
creator puts the links that prove their accounts elsewhere), locked and discoverable."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.accounts import profile
from server.accounts.images import Upload
from server.accounts.profile import MAX_FIELDS, ProfileForm, ProfileUpdate
from server.auth import checked_form, current_user
from server.context import context
from server.domain_errors import ServiceError
from server.errors import status_of

PATH = "/settings/profile"
NOTICE = "profile_notice"


def _page(request: Request, form: ProfileForm, error: ServiceError | None = None) -> Response:
    rows = [*form.fields, *([("", "")] * (MAX_FIELDS - len(form.fields)))][:MAX_FIELDS]
    values = {
        "form": form,
        "rows": rows,
        "error": error,
        "notice": request.session.pop(NOTICE, ""),
    }
    response: Response = context(request).templates.TemplateResponse(
        request, "settings_profile.html", values, status_code=status_of(error) if error else 200
    )
    return response


async def profile_page(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/login?next={PATH}", status_code=303)
    return _page(request, await profile.profile_form(context(request).db, user.id))


async def _image(form: FormData, name: str) -> Upload | None:
    value = form.get(name)
    if not isinstance(value, UploadFile):
        return None
    try:
        return Upload(await value.read(), value.filename) if value.filename else None
    finally:
        await value.close()


async def _update(form: FormData) -> ProfileUpdate:
    fields = tuple(
        (
            str(form.get(f"fields_attributes[{index}][name]", "")),
            str(form.get(f"fields_attributes[{index}][value]", "")),
        )
        for index in range(MAX_FIELDS)
    )
    return ProfileUpdate(
        display_name=str(form.get("display_name", "")),
        note=str(form.get("note", "")),
        fields=fields,
        locked=form.get("locked") == "on",
        discoverable=form.get("discoverable") == "on",
        avatar=await _image(form, "avatar"),
        header=await _image(form, "header"),
    )


async def save_profile(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/login?next={PATH}", status_code=303)
    update = await _update(await checked_form(request))
    app = context(request)
    outcome = await profile.save_profile_form(app.db, app.settings, user.id, update)
    if outcome.page is not None:
        return _page(request, outcome.page, outcome.error)
    request.session[NOTICE] = "Your profile is saved."
    return RedirectResponse(PATH, status_code=303)


routes = [
    Route(PATH, profile_page, methods=["GET"]),
    Route(PATH, save_profile, methods=["POST"]),
]
