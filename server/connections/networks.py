"""The bridged networks this instance offers: `bridges.registry`'s, each given its admin's
configuration (`[bridges.<name>]`) and the instance's one HTTP client. A network the admin
has not configured (one that needs a client id, say) is not offered, and a connection on
it is left alone rather than broken."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import httpx

from bridges.base import Network, NetworkConfig
from bridges.registry import NETWORKS, build_network, configured
from bridges.x import budget_period as x_month
from bridges.youtube import quota_period
from server.connections.usage import DatabaseBudget, Offered
from server.db.engine import Database
from server.domain_errors import NotFound
from server.settings import Settings

# Google gives a project 10,000 YouTube quota units a day unless it asked for more.
YOUTUBE_DAILY_UNITS = 10_000

Build = Callable[[str, httpx.AsyncClient, NetworkConfig], Network]
Configured = Callable[[str, NetworkConfig], bool]


def network_config(settings: Settings, name: str) -> NetworkConfig:
    table = settings.bridges.get(name, {})
    return NetworkConfig(
        client_id=table.get("client_id", ""),
        client_secret=table.get("client_secret", ""),
        base_url=table.get("base_url", ""),
        app_name=settings.name,
        website=settings.base_url,
        allow_private=settings.dev,
        user_agent=f"Likewise ({settings.base_url})",
        directory_url=table.get("directory_url", ""),
        monthly_requests=int(table.get("monthly_requests") or 0),
    )


def budget_limit(name: str, table: Mapping[str, str]) -> int:
    """The instance-wide budget a network's module spends from: X's requests a month (the
    admin's opt-in), YouTube's quota units a day; 0 for networks without one."""
    if name == "x":
        return int(table.get("monthly_requests") or 0)
    if name == "youtube":
        return int(table.get("daily_units") or YOUTUBE_DAILY_UNITS)
    return 0


def budget_period(name: str) -> tuple[str, str]:
    """(what the admin's page calls the budget, its running period) for a budgeted network."""
    if name == "youtube":
        return "Quota units today (Pacific time)", quota_period()
    return "Requests this month", x_month()


@dataclass(frozen=True)
class Networks:
    """The networks on offer, built on demand over one HTTP client. Tests hand their own
    `build` and `names` to reach a network of their own."""

    settings: Settings
    http: httpx.AsyncClient
    build: Build = build_network
    is_configured: Configured = configured
    names: tuple[str, ...] = field(default_factory=lambda: tuple(NETWORKS))
    # The instance's database, for the budgets X and YouTube spend from (None: uncounted).
    db: Database | None = None

    def offered(self) -> list[str]:
        return [
            name
            for name in self.names
            if self.is_configured(name, network_config(self.settings, name))
        ]

    def get(self, name: str) -> Network:
        if name not in self.offered():
            raise NotFound(f"this instance does not connect to {name!r}")
        config = network_config(self.settings, name)
        limit = budget_limit(name, self.settings.bridges.get(name, {}))
        if self.db is not None and limit:
            config = replace(config, budget=DatabaseBudget(self.db, name, limit))
        return self.build(name, self.http, config)

    def on_offer(self) -> dict[str, Offered]:
        """What the admin's networks page shows of each offered network."""
        shown = {}
        for name, label in self.labels().items():
            limit = budget_limit(name, self.settings.bridges.get(name, {}))
            if limit:
                what, period = budget_period(name)
                shown[name] = Offered(label, limit, what, period)
            else:
                shown[name] = Offered(label)
        return shown

    def labels(self) -> Mapping[str, str]:
        return {name: self.get(name).label for name in self.offered()}
