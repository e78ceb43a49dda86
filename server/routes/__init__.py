"""Every route of the instance, gathered explicitly."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

import server.convertors  # noqa: F401  (bounds {x:int} before any route module builds its routes)
from server.routes import (
    activitypub,
    admin_accounts,
    admin_runs,
    bank,
    button,
    connections,
    dashboard,
    health,
    imports,
    interaction,
    media_files,
    money,
    notes,
    oauth,
    password_pages,
    profile_pages,
    settings_pages,
    settlement,
    settlement_pages,
    stripe,
    tag_pages,
    terms_pages,
    waiting,
    web,
    wellknown,
)
from server.routes.api import accounts as api_accounts
from server.routes.api import apps as api_apps
from server.routes.api import instance as api_instance
from server.routes.api import likewise as api_likewise
from server.routes.api import media as api_media
from server.routes.api import notifications as api_notifications
from server.routes.api import openapi as api_openapi
from server.routes.api import relations as api_relations
from server.routes.api import startup as api_startup
from server.routes.api import statuses as api_statuses
from server.routes.api import streaming as api_streaming
from server.routes.api import timelines as api_timelines
from server.templating import STATIC_DIR


def all_routes() -> list[BaseRoute]:
    return [
        *settlement.routes,  # the instance inbox: settlement documents, else as below
        *activitypub.routes,  # the inbox is the hottest path
        *health.routes,
        *web.routes,
        *oauth.routes,
        *settings_pages.routes,
        *terms_pages.routes,
        *password_pages.routes,
        *connections.routes,
        *imports.routes,
        *api_apps.routes,
        *api_instance.routes,
        *api_startup.routes,  # before any {id} route: notifications/policy
        *api_accounts.routes,
        *api_relations.routes,
        *api_statuses.routes,
        *api_timelines.routes,
        *api_media.routes,
        *api_notifications.routes,
        *api_streaming.routes,
        *wellknown.routes,
        *notes.routes,
        *profile_pages.routes,
        *tag_pages.routes,
        *media_files.routes,
        *interaction.routes,
        *api_likewise.routes,
        *api_openapi.routes,
        *dashboard.routes,
        *bank.routes,
        *money.routes,
        *admin_runs.routes,
        *admin_accounts.routes,
        *stripe.routes,
        *settlement_pages.routes,
        *button.routes,
        *waiting.routes,
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
