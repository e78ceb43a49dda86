"""The embeddable button: an <a> around an SVG badge saying a like is a donation, with the
like count; the page behind it lets a logged-in donor like the URL, and the like's answer
is a redirect back to it (a reload does not like again). No JavaScript anywhere."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_user
from server.context import context
from server.domain_errors import Unauthorized
from server.donations import button

BUTTON_NOTICE = "button_notice"  # the last like's outcome, shown once on its button page
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


BADGE_LABEL = "donate with a like"


def _badge(count: int, name: str) -> str:
    """Left: what a like is (a donation); right: how many it had. Verdana 11 px is about
    7 px a character."""
    value = str(count)
    left, right = 12 + 7 * len(BADGE_LABEL), 10 + 7 * len(value)
    width = left + right
    likes = f"{count} like{'' if count == 1 else 's'}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="Donate with a like on {_escape(name)}: {likes} so far">'
        f"<title>Like this to give it a share of your monthly budget on {_escape(name)}: "
        f"{likes} so far</title>"
        f'<rect width="{left}" height="20" fill="#0b6e4f"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="#555"/>'
        f'<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
        f'<text x="6" y="14">{BADGE_LABEL}</text><text x="{left + 5}" y="14">{value}</text>'
        "</g></svg>"
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
        "liked": view.liked,
        "login_next": quote(_here(url), safe=""),
    }
    response: Response = context(request).templates.TemplateResponse(
        request, "button.html", values, status_code=200
    )
    return response


def _here(url: str) -> str:
    return f"/button?url={quote(url, safe='')}"


async def button_page(request: Request) -> Response:
    app, url = context(request), request.query_params.get("url", "")
    user = current_user(request)
    view = await button.button_view(app.db, app.settings, url, user.id if user else None)
    shown = request.session.pop(BUTTON_NOTICE, None) if "session" in request.scope else None
    outcome = shown.get("outcome") if isinstance(shown, dict) and shown.get("url") == url else ""
    return _page(request, url, view, OUTCOME_TEXT.get(outcome, outcome) if outcome else "")


async def button_like(request: Request) -> Response:
    """Like the URL, then back to its button page (GET), which says what the like did."""
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in to like things")
    form = await checked_form(request)
    url = str(form.get("url", ""))
    app = context(request)
    liked = await button.like_from_button(app.db, app.settings, user.id, url)
    request.session[BUTTON_NOTICE] = {"url": url, "outcome": liked.outcome}
    return RedirectResponse(_here(url), status_code=303)


routes = [
    Route("/button", button_page, methods=["GET"]),
    Route("/button/like", button_like, methods=["POST"]),
    Route("/button/badge.svg", badge, methods=["GET"]),
]
