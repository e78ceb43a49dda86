"""The connected-accounts forms as one service call each: the action, or its refusal with
the page that shows it (`server.domain_errors.Outcome`)."""

from __future__ import annotations

from collections.abc import Mapping

from server.connections.accounts import (
    CONNECT,
    ConnectStep,
    Finished,
    finish_connect,
    start_connect,
)
from server.connections.networks import Networks
from server.connections.pages import ConnectionsPage, connections_page
from server.db.engine import Database
from server.domain_errors import Outcome, attempt
from server.settings import Settings


async def connect(
    db: Database,
    settings: Settings,
    networks: Networks,
    account_id: int,
    network: str,
    handle: str,
    purpose: str = CONNECT,
) -> Outcome[ConnectStep, ConnectionsPage]:
    return await attempt(
        start_connect(db, settings, networks, account_id, network, handle, purpose),
        lambda: connections_page(db, networks, account_id),
    )


async def finish(
    db: Database,
    settings: Settings,
    networks: Networks,
    account_id: int,
    network: str,
    callback: Mapping[str, str],
) -> Outcome[Finished, ConnectionsPage]:
    return await attempt(
        finish_connect(db, settings, networks, account_id, network, callback),
        lambda: connections_page(db, networks, account_id),
    )
