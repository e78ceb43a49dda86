from __future__ import annotations

import httpx
import pytest

from bridges.base import ConnectKind, NetworkConfig
from bridges.bluesky import APPVIEW, PLC_DIRECTORY, BlueskyNetwork
from bridges.errors import NotConfigured
from bridges.fediverse import FediverseNetwork
from bridges.registry import NETWORKS, build_network, configured


async def test_every_network_is_built_by_name_and_needs_no_client_id() -> None:
    assert list(NETWORKS) == ["fediverse", "bluesky"]
    async with httpx.AsyncClient() as http:
        fediverse = build_network("fediverse", http, NetworkConfig())
        bluesky = build_network("bluesky", http, NetworkConfig())
        assert isinstance(fediverse, FediverseNetwork)
        assert fediverse.connect_kind == ConnectKind.oauth2
        assert isinstance(bluesky, BlueskyNetwork)
        assert bluesky.connect_kind == ConnectKind.handle_proof
        assert (bluesky.appview, bluesky.directory) == (APPVIEW, PLC_DIRECTORY)
        with pytest.raises(NotConfigured):
            build_network("myspace", http, NetworkConfig())
    assert configured("fediverse", NetworkConfig()) and configured("bluesky", NetworkConfig())
    assert not configured("myspace", NetworkConfig())
