"""The bridged networks this instance offers: `bridges.registry`'s, each given its admin's
configuration (`[bridges.<name>]`) and the instance's one HTTP client. A network the admin
has not configured (one that needs a client id, say) is not offered, and a connection on
it is left alone rather than broken."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from bridges.base import Network, NetworkConfig
from bridges.registry import NETWORKS, build_network, configured
from server.domain_errors import NotFound
from server.settings import Settings

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


@dataclass(frozen=True)
class Networks:
    """The networks on offer, built on demand over one HTTP client. Tests hand their own
    `build` and `names` to reach a network of their own."""

    settings: Settings
    http: httpx.AsyncClient
    build: Build = build_network
    is_configured: Configured = configured
    names: tuple[str, ...] = field(default_factory=lambda: tuple(NETWORKS))

    def offered(self) -> list[str]:
        return [
            name
            for name in self.names
            if self.is_configured(name, network_config(self.settings, name))
        ]

    def get(self, name: str) -> Network:
        if name not in self.offered():
            raise NotFound(f"this instance does not connect to {name!r}")
        return self.build(name, self.http, network_config(self.settings, name))

    def labels(self) -> Mapping[str, str]:
        return {name: self.get(name).label for name in self.offered()}
