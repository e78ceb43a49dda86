from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from tests.federation.network import FakeMastodon, Network, running, settings_for
from tests.support.databases import DatabaseFactory


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
def mastodon(network: Network) -> FakeMastodon:
    fake = FakeMastodon()
    network.apps[fake.host] = fake.app()
    return fake


@pytest.fixture
async def alpha(
    network: Network, tmp_path: Path, databases: DatabaseFactory
) -> AsyncIterator[Starlette]:
    async with running(network, settings_for(tmp_path, "alpha.test", databases)) as app:
        yield app


@pytest.fixture
async def beta(
    network: Network, tmp_path: Path, databases: DatabaseFactory
) -> AsyncIterator[Starlette]:
    async with running(network, settings_for(tmp_path, "beta.test", databases)) as app:
        yield app
