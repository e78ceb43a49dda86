from __future__ import annotations

import httpx
import pytest

from bridges.base import ConnectKind, NetworkConfig
from bridges.bluesky import APPVIEW, PLC_DIRECTORY, BlueskyNetwork
from bridges.errors import NotConfigured
from bridges.fediverse import FediverseNetwork
from bridges.registry import NETWORKS, build_network, configured


async def test_the_fediverse_and_bluesky_are_built_by_name_and_need_no_client_id() -> None:
    assert list(NETWORKS)[:2] == ["fediverse", "bluesky"]
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


ONE_APP = ["flickr", "soundcloud", "vimeo", "x", "github", "youtube", "tumblr", "dailymotion"]


async def test_networks_with_one_app_are_offered_only_with_its_id_and_secret() -> None:
    assert list(NETWORKS)[2:] == ONE_APP
    app = NetworkConfig(client_id="id", client_secret="secret")
    async with httpx.AsyncClient() as http:
        for name in ONE_APP:
            assert not configured(name, NetworkConfig()), name
            assert not configured(name, NetworkConfig(client_id="id")), name
            with pytest.raises(NotConfigured):
                build_network(name, http, NetworkConfig(client_secret="secret"))
            if name == "x":  # pay per read: off without a budget
                assert not configured(name, app)
                app_with_budget = NetworkConfig(
                    client_id="id", client_secret="secret", budget_limit=1000
                )
                network = build_network(name, http, app_with_budget)
            else:
                assert configured(name, app), name
                network = build_network(name, http, app)
            assert network.name == name
            assert not network.asks_handle
            assert network.connect_kind == (
                ConnectKind.oauth1 if name == "flickr" else ConnectKind.oauth2
            )
