"""Every route of the instance, gathered explicitly."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from server.routes import health, web
from server.routes.api import accounts as api_accounts
from server.templating import STATIC_DIR


def all_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *web.routes,
        *api_accounts.routes,
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
