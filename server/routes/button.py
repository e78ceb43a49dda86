"""The embeddable button: an <a> around an SVG badge with the like count; the page behind it
lets a logged-in donor like the URL. No JavaScript anywhere."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import checked_form, current_user
from server.context import context
from server.domain_errors import Unauthorized
from server.donations import button

OUTCOME_TEXT = {
    "recorded": "Liked. It gets a share of your budget when the month closes.",
    "duplicate": "You already liked this this month.",
    "self_like": "That is your own; your likes of your own things never count.",
    "paused": (
        "Your budget is paused: this like is not counted and gives no money. Resume your "
        "budget, then like it again this month."
    ),
    "not_a_donor": "This account cannot like things.",
}


def _badge(count: int, name: str) -> str:
    label, value = "like", str(count)
    left, right = 34, 10 + 7 * len(value)
    width = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {value}"><title>{count} like{"" if count == 1 else "s"} on '
        f"{_escape(name)}</title>"
        f'<rect width="{left}" height="20" fill="#0b6e4f"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="#555"/>'
        f'<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
        f'<text x="6" y="14">{label}</text><text x="{left + 5}" y="14">{value}</text></g></svg>'
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


async def badge(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    count = await button.badge_count(app.db, settings, request.query_params.get("url", ""))
    return Response(
        _badge(count, settings.name),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=60"},
    )


def _page(request: Request, url: str, view: button.ButtonView, message: str = "") -> Response:
    values = {
        "thing": view.thing,
        "url": url,
        "count": view.count,
        "message": message,
        "login_next": quote(f"/button?url={quote(url, safe='')}", safe=""),
    }
    response: Response = context(request).templates.TemplateResponse(
        request, "button.html", values, status_code=200
    )
    return response


async def button_page(request: Request) -> Response:
    app, url = context(request), request.query_params.get("url", "")
    return _page(request, url, await button.button_view(app.db, app.settings, url))


async def button_like(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in to like things")
    form = await checked_form(request)
    url = str(form.get("url", ""))
    app = context(request)
    liked = await button.like_from_button(app.db, app.settings, user.id, url)
    return _page(request, url, liked.view, OUTCOME_TEXT.get(liked.outcome, liked.outcome))


routes = [
    Route("/button", button_page, methods=["GET"]),
    Route("/button/like", button_like, methods=["POST"]),
    Route("/button/badge.svg", badge, methods=["GET"]),
]
