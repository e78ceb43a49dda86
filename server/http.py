"""The one outgoing HTTP client of an instance (trusting LIKEWISE_CA_BUNDLE if set)."""

from __future__ import annotations

import ssl

import certifi
import httpx

from server.settings import Settings

USER_AGENT = "Likewise/0.1.0 (+{base_url})"


def ssl_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.ca_bundle:
        context.load_verify_locations(cafile=settings.ca_bundle)
    return context


def build_http_client(settings: Settings, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=ssl_context(settings),
        timeout=httpx.Timeout(10.0, connect=5.0),
        headers={"User-Agent": USER_AGENT.format(base_url=settings.base_url)},
        follow_redirects=False,
        **kwargs,  # type: ignore[arg-type]
    )
