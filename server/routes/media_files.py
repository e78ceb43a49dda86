"""Stored avatars and headers, served from the data directory (`/media/accounts/...`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from server.accounts.images import stored_file
from server.context import context
from server.render.mastodon import ACCOUNT_MEDIA_PATH

# A stored image never changes: a new one gets a new name.
CACHED = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


async def account_image(request: Request) -> Response:
    path = stored_file(context(request).settings, str(request.path_params["name"]))
    kind = "image/jpeg" if path.suffix == ".jpg" else "image/png"
    return FileResponse(path, media_type=kind, headers=CACHED)


routes = [Route(ACCOUNT_MEDIA_PATH + "{name}", account_image, methods=["GET"])]
