"""The public page a creator notice links to: what supporters set aside for a fediverse
creator who has not joined, until when, how to claim it, how to stop the messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import context
from server.escrow import pages
from server.escrow.notices import (
    WAITING_PATH,
    date_text,
    supporters_text,
)
from server.money.amounts import format_money

CLAIM_PATH = "/money/creator"  # where a signed-up account claims its fediverse identity


async def waiting(request: Request) -> Response:
    settings = context(request).settings
    view = await pages.waiting(context(request).db, settings, request.path_params["token"])
    held = view.page.waiting
    values = {
        "page": view.page,
        "outcomes": view.outcomes,
        "amount": format_money(held.amount, settings) if held else "",
        "supporters": supporters_text(held.supporters) if held else "",
        "returns_on": date_text(held.returns_at) if held else "",
        "claim_path": CLAIM_PATH,
        "instance_handle": f"@{settings.host}@{settings.domain}",
    }
    response: Response = context(request).templates.TemplateResponse(
        request, "waiting.html", values, headers={"X-Robots-Tag": "noindex"}
    )
    return response


routes = [Route(WAITING_PATH + "{token:str}", waiting, methods=["GET"])]
