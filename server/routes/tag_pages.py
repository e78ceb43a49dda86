"""`/tags/<name>`: a hashtag's public page, where the `url` of the client API's tags (in
statuses and search results) leads: the public posts with the tag this instance holds,
local and remote, newest first, twenty a page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import current_user
from server.context import context
from server.convertors import is_row_id
from server.domain_errors import NotFound
from server.errors import BadRequest
from server.render.statuses import StatusView
from server.settings import Settings
from server.social import pages

HASHTAG = re.compile(r"\w{1,100}")


@dataclass(frozen=True)
class Entry:
    """One post as the page shows it: who wrote it, where it lives, what it says."""

    author: str
    handle: str
    profile_url: str
    url: str
    view: StatusView


def _web(url: str, fallback: str) -> str:
    """A remote address fit for a link: http(s) only (another server wrote it)."""
    for candidate in (url, fallback):
        if candidate.startswith(("https://", "http://")):
            return candidate
    return ""


def _entry(settings: Settings, view: StatusView) -> Entry:
    note, actor = view.note, view.author
    if view.account is not None:
        username = view.account.username
        return Entry(
            author=view.account.display_name or username,
            handle=f"@{username}@{settings.domain}",
            profile_url=f"/@{username}",
            url=f"/@{username}/{note.id}",
            view=view,
        )
    return Entry(
        author=actor.name or actor.username,
        handle=f"@{actor.username}@{actor.domain}",
        profile_url=_web(actor.url, actor.uri),
        url=_web(note.url, note.uri),
        view=view,
    )


def _max_id(request: Request) -> int | None:
    raw = request.query_params.get("max_id")
    if raw is None:
        return None
    if not is_row_id(raw):
        raise BadRequest("max_id must be a post id", field="max_id")
    return int(raw)


async def tag_page(request: Request) -> Response:
    name = str(request.path_params["name"])
    if not HASHTAG.fullmatch(name):
        raise NotFound("no such hashtag")
    user = current_user(request)
    app = context(request)
    found = await pages.tag_page(
        app.db, app.settings, name.lower(), user.id if user else None, _max_id(request)
    )
    values = {
        "name": name.lower(),
        "entries": [_entry(app.settings, view) for view in found.views],
        "older": found.older,
    }
    response: Response = app.templates.TemplateResponse(request, "tag.html", values)
    return response


routes = [Route("/tags/{name}", tag_page, methods=["GET"])]
