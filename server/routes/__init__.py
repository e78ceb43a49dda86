"""Every route of the instance, gathered explicitly."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

import server.convertors  # noqa: F401  (bounds {x:int} before any route module builds its routes)
from server.routes import (
    activitypub,
    button,
    dashboard,
    health,
    interaction,
    money,
    notes,
    settlement,
    settlement_pages,
    waiting,
    web,
    wellknown,
)
from server.routes.api import accounts as api_accounts
from server.routes.api import likewise as api_likewise
from server.routes.api import openapi as api_openapi
from server.routes.api import statuses as api_statuses
from server.templating import STATIC_DIR


def all_routes() -> list[BaseRoute]:
    return [
        *settlement.routes,  # the instance inbox: settlement documents, else as below
        *activitypub.routes,  # the inbox is the hottest path
        *health.routes,
        *web.routes,
        *api_accounts.routes,
        *api_statuses.routes,
        *wellknown.routes,
        *notes.routes,
        *interaction.routes,
        *api_likewise.routes,
        *api_openapi.routes,
        *dashboard.routes,
        *money.routes,
        *settlement_pages.routes,
        *button.routes,
        *waiting.routes,
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
