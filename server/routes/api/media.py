"""Mastodon client API: media uploads (images), their description and focal point, and
the stored files themselves."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.auth import current_account, refuse_nul, require_scope
from server.context import context
from server.convertors import is_row_id
from server.domain_errors import NotFound, ValidationFailed
from server.errors import BadRequest
from server.render.media import ATTACHMENTS_PATH, render_media
from server.routes.api.params import body_params
from server.social import media

UPLOAD_PATHS = ("/api/v1/media", "/api/v2/media")
# The body may hold the image and the multipart framing and text fields around it.
FORM_OVERHEAD = 64 * 1024


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text", field=name)
    return value


@require_scope("write:media")
async def upload(request: Request) -> Response:
    account = await current_account(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest("send the image as multipart/form-data, in the field 'file'")
    async with request.form(max_files=1, max_fields=20) as form:
        refuse_nul(form)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ValidationFailed("the field 'file' must be an uploaded file", field="file")
        data = await file.read()
        upload = media.Upload(
            data=data,
            description=_text(form.get("description"), "description"),
            focus=_text(form.get("focus"), "focus"),
        )
    app = context(request)
    row = await media.upload(app.db, app.settings, account.id or 0, upload)
    return JSONResponse(render_media(app.settings, row))


def _media_id(request: Request) -> int:
    raw = str(request.path_params["media_id"])
    if not is_row_id(raw):
        raise NotFound("no such media attachment")
    return int(raw)


@require_scope("write:media")
async def get_media(request: Request) -> Response:
    account = await current_account(request)
    app = context(request)
    row = await media.get_own(app.db, account.id or 0, _media_id(request))
    return JSONResponse(render_media(app.settings, row))


@require_scope("write:media")
async def update_media(request: Request) -> Response:
    account = await current_account(request)
    fields = await body_params(request)
    description = fields.get("description")
    focus = fields.get("focus")
    app = context(request)
    row = await media.update(
        app.db,
        account.id or 0,
        _media_id(request),
        None if description is None else _text(description, "description"),
        None if focus is None else _text(focus, "focus"),
    )
    return JSONResponse(render_media(app.settings, row))


async def attachment_file(request: Request) -> Response:
    path, content_type = media.stored_file(context(request).settings, request.path_params["name"])
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    return FileResponse(path, media_type=content_type, headers=headers)


routes = [
    Route("/api/v1/media", upload, methods=["POST"]),
    Route("/api/v2/media", upload, methods=["POST"]),
    Route("/api/v1/media/{media_id}", get_media, methods=["GET"]),
    Route("/api/v1/media/{media_id}", update_media, methods=["PUT"]),
    Route(ATTACHMENTS_PATH + "{name}", attachment_file, methods=["GET"]),
]
