"""The bridged networks this instance offers: `bridges.registry`'s, each given its admin's
configuration (`[bridges.<name>]`) and the instance's one HTTP client. A network the admin
has not configured (one that needs a client id, say) is not offered, and a connection on
it is left alone rather than broken."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import httpx

from bridges.base import Network, NetworkConfig
from bridges.registry import NETWORKS, budget_terms, build_network, configured
from server.connections.usage import DatabaseBudget, Offered
from server.db.engine import Database
from server.domain_errors import NotFound
from server.settings import Settings

Build = Callable[[str, httpx.AsyncClient, NetworkConfig], Network]
Configured = Callable[[str, NetworkConfig], bool]


def network_config(settings: Settings, name: str) -> NetworkConfig:
    table = settings.bridges.get(name, {})
    terms = budget_terms(name)
    return NetworkConfig(
        client_id=table.get("client_id", ""),
        client_secret=table.get("client_secret", ""),
        base_url=table.get("base_url", ""),
        app_name=settings.name,
        website=settings.base_url,
        allow_private=settings.dev,
        user_agent=f"Likewise ({settings.base_url})",
        directory_url=table.get("directory_url", ""),
        budget_limit=terms.limit(table) if terms is not None else 0,
    )


@dataclass(frozen=True)
class Networks:
    """The networks on offer, built on demand over one HTTP client. Tests hand their own
    `build` and `names` to reach a network of their own."""

    settings: Settings
    http: httpx.AsyncClient
    build: Build = build_network
    is_configured: Configured = configured
    names: tuple[str, ...] = field(default_factory=lambda: tuple(NETWORKS))
    # The instance's database, for the budgets networks spend from (None: uncounted).
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
        if self.db is not None and config.budget_limit:
            budget = DatabaseBudget(self.db, name, config.budget_limit)
            config = replace(config, budget=budget)
        return self.build(name, self.http, config)

    def on_offer(self) -> dict[str, Offered]:
        """What the admin's networks page shows of each offered network: its budget in the
        words and period its class declares."""
        shown = {}
        for name, label in self.labels().items():
            limit = network_config(self.settings, name).budget_limit
            terms = budget_terms(name)
            if terms is not None and limit:
                shown[name] = Offered(label, limit, terms.label, terms.period.key())
            else:
                shown[name] = Offered(label)
        return shown

    def labels(self) -> Mapping[str, str]:
        return {name: self.get(name).label for name in self.offered()}
