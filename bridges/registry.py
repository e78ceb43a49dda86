"""The bridged networks, by name: an explicit dict, no discovery. `build_network` makes one
over the instance's HTTP client and the admin's configuration; `configured` says whether the
admin's configuration is enough for it (a network that is not is hidden, not broken)."""

from __future__ import annotations

from typing import Protocol

import httpx

from bridges.base import Network, NetworkConfig
from bridges.bluesky import BlueskyNetwork
from bridges.budgets import BudgetTerms
from bridges.dailymotion import DailymotionNetwork
from bridges.errors import NotConfigured
from bridges.fediverse import FediverseNetwork
from bridges.flickr import FlickrNetwork
from bridges.github import GitHubNetwork
from bridges.soundcloud import SoundCloudNetwork
from bridges.tumblr import TumblrNetwork
from bridges.vimeo import VimeoNetwork
from bridges.x import XNetwork
from bridges.youtube import YoutubeNetwork


class NetworkType(Protocol):
    """A network module's class: built over the instance's client and its configuration."""

    def __call__(self, http: httpx.AsyncClient, config: NetworkConfig) -> Network: ...

    def is_configured(self, config: NetworkConfig) -> bool: ...


# In the order the connect page offers them: the fediverse and Bluesky, then the networks
# of the original announcement, then the rest.
NETWORKS: dict[str, NetworkType] = {
    "fediverse": FediverseNetwork,
    "bluesky": BlueskyNetwork,
    "flickr": FlickrNetwork,
    "soundcloud": SoundCloudNetwork,
    "vimeo": VimeoNetwork,
    "x": XNetwork,
    "github": GitHubNetwork,
    "youtube": YoutubeNetwork,
    "tumblr": TumblrNetwork,
    "dailymotion": DailymotionNetwork,
}


def configured(name: str, config: NetworkConfig) -> bool:
    """The fediverse registers an app on each server (no client id needed) and Bluesky needs
    only base URLs, which default to the public AppView and plc.directory; networks with one
    registered app need its client id and secret (X also a monthly request budget)."""
    return name in NETWORKS and NETWORKS[name].is_configured(config)


def budget_terms(name: str) -> BudgetTerms | None:
    """The instance-wide budget network `name` spends from, as its class declares it
    (`budget_terms`: X's requests a month, YouTube's quota units a day); None for the
    networks without one."""
    terms = getattr(NETWORKS.get(name), "budget_terms", None)
    return terms if isinstance(terms, BudgetTerms) else None


def build_network(name: str, http: httpx.AsyncClient, config: NetworkConfig) -> Network:
    if name not in NETWORKS:
        raise NotConfigured(f"no bridged network named {name!r}")
    if not configured(name, config):
        raise NotConfigured(f"{name} is not configured on this instance")
    return NETWORKS[name](http, config)
