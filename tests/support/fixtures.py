"""Fixtures shared across test folders, registered in tests/conftest.py via pytest_plugins:
the money settings (a 10% fee), the in-process network of apps, bob on a fake remote server
on it, and two instances, alpha.test and beta.test, that reach each other through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from server.settings import Settings
from tests.support.databases import DatabaseFactory
from tests.support.network import Network, running, settings_for
from tests.support.remote import RemoteActor, RemoteServer, mastodon_bob


@pytest.fixture
def money_settings(settings: Settings) -> Settings:
    return settings.replace(fee_bps=1000)


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
def mastodon(network: Network) -> RemoteActor:
    """bob on mastodon.test, a remote server on the network."""
    return mastodon_bob(RemoteServer("mastodon.test").join(network))


# Databases are made in sync fixtures, outside the test's event loop.
@pytest.fixture
def alpha_settings(tmp_path: Path, databases: DatabaseFactory) -> Settings:
    return settings_for(tmp_path, "alpha.test", databases)


@pytest.fixture
def beta_settings(tmp_path: Path, databases: DatabaseFactory) -> Settings:
    return settings_for(tmp_path, "beta.test", databases)


@pytest.fixture
async def alpha(network: Network, alpha_settings: Settings) -> AsyncIterator[Starlette]:
    async with running(network, alpha_settings) as app:
        yield app


@pytest.fixture
async def beta(network: Network, beta_settings: Settings) -> AsyncIterator[Starlette]:
    async with running(network, beta_settings) as app:
        yield app
