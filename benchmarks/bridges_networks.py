"""benchmarks/bridges.py's networks: how the round's accounts are shared out among them
(`--mix`: the default of all ten, the classic run of Mastodon and Bluesky, or `name=share,…`),
and the report of what each one did (pages, likes, clicks, requests, 429s and over-limit
requests, against the rate limit its fake keeps)."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from bridges.registry import NETWORKS
from server.models import BridgeLike, BridgeLikeOutcome, BridgeUsage, Click, ConnectedAccount

# The fakes' counts by network ("requests", "rate_limited", "over_limit").
Stats = dict[str, dict[str, int]]


def delta(before: Stats, after: Stats, name: str, key: str) -> int:
    """What network `name`'s fake counted of `key` between the two moments."""
    return after[name][key] - before[name][key]


# --- the mix ---------------------------------------------------------------------------------

# The default share of the accounts on each network: the fediverse and Bluesky first (where
# the project began), then X and YouTube, then the smaller ones. Tumblr's share stays where
# its round (three pages an account) keeps under half of its hourly 1,000 calls.
DEFAULT_MIX: dict[str, float] = {
    "fediverse": 0.25,
    "bluesky": 0.20,
    "x": 0.10,
    "youtube": 0.10,
    "github": 0.07,
    "flickr": 0.06,
    "soundcloud": 0.06,
    "tumblr": 0.06,
    "vimeo": 0.05,
    "dailymotion": 0.05,
}
# The benchmark as it was before the other networks: Mastodon 700, Bluesky 300.
CLASSIC_MIX: dict[str, float] = {"fediverse": 0.7, "bluesky": 0.3}


def parse_mix(text: str) -> dict[str, float]:
    """`all` (DEFAULT_MIX), `classic` (CLASSIC_MIX) or `name=share,…` (shares are made to
    add up to one; a network not named gets no accounts)."""
    if text == "all":
        return dict(DEFAULT_MIX)
    if text == "classic":
        return dict(CLASSIC_MIX)
    shares: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.strip().partition("=")
        if name not in NETWORKS:
            raise argparse.ArgumentTypeError(f"no network {name!r} (one of {', '.join(NETWORKS)})")
        try:
            shares[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: a share is a number") from None
        if shares[name] < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: a share is not negative")
    total = sum(shares.values())
    if total <= 0:
        raise argparse.ArgumentTypeError("the shares add up to nothing")
    return {name: share / total for name, share in shares.items()}


def split(accounts: int, mix: Mapping[str, float]) -> dict[str, int]:
    """`accounts` shared out by `mix` (largest remainders), in the registry's order."""
    exact = {name: accounts * mix.get(name, 0.0) for name in NETWORKS}
    counts = {name: int(value) for name, value in exact.items()}
    by_rest = sorted(NETWORKS, key=lambda name: exact[name] - counts[name], reverse=True)
    for name in by_rest[: accounts - sum(counts.values())]:
        counts[name] += 1
    return {name: count for name, count in counts.items() if count}


# --- the report ------------------------------------------------------------------------------


# What each network's fake limits, as the network documents it (the fakes' default knobs).
LIMITS: dict[str, str] = {
    "fediverse": "300 requests per 5 min per token",
    "bluesky": "3000 requests per 5 min for all callers",
    "flickr": "3600 calls an hour per API key",
    "soundcloud": "300 requests per 5 min per token",
    "vimeo": "250 requests a minute per token",
    "x": "75 reads per 15 min per token, the monthly budget",
    "github": "5000 requests an hour per token",
    "youtube": "10,000 quota units a day for the project",
    "tumblr": "1000 calls an hour per app",
    "dailymotion": "1000 requests per token",
}


@dataclass
class PerNetwork:
    """One network's part of the round, as the database tells it."""

    accounts: int = 0
    finished: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # bridge_like rows by outcome
    clicks: int = 0  # clicks whose source is bridge:<network>
    polls: int = 0  # bridge_usage: pages asked for
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0

    @property
    def pages(self) -> int:
        return self.polls - self.errors - self.rate_limited


async def count_by_network(session: Any) -> dict[str, PerNetwork]:
    """Each network's part of the round from the database: accounts, finished rounds,
    bridge_like outcomes, clicks, and bridge_usage's counts."""
    found: dict[str, PerNetwork] = {}
    accounts = await session.exec(
        select(ConnectedAccount.network, func.count()).group_by(col(ConnectedAccount.network))
    )
    for network, number in accounts.all():
        found.setdefault(network, PerNetwork()).accounts = number
    finished = await session.exec(
        select(ConnectedAccount.network, func.count())
        .where(
            col(ConnectedAccount.round_started_at).is_(None),
            ConnectedAccount.last_error == "",
            ConnectedAccount.likes_counted > 0,
        )
        .group_by(col(ConnectedAccount.network))
    )
    for network, number in finished.all():
        found.setdefault(network, PerNetwork()).finished = number
    outcomes = await session.exec(
        select(BridgeLike.network, BridgeLike.outcome, func.count()).group_by(
            col(BridgeLike.network), col(BridgeLike.outcome)
        )
    )
    for network, outcome, number in outcomes.all():
        found.setdefault(network, PerNetwork()).outcomes[str(outcome)] += number
    clicks = await session.exec(select(Click.source, func.count()).group_by(col(Click.source)))
    for source, number in clicks.all():
        found.setdefault(source.removeprefix("bridge:"), PerNetwork()).clicks += number
    asked = await session.exec(
        select(
            BridgeUsage.network, func.sum(BridgeUsage.polls), func.sum(BridgeUsage.requests)
        ).group_by(col(BridgeUsage.network))
    )
    for network, polls, requests in asked.all():
        one = found.setdefault(network, PerNetwork())
        one.polls, one.requests = int(polls or 0), int(requests or 0)
    refused = await session.exec(
        select(
            BridgeUsage.network, func.sum(BridgeUsage.errors), func.sum(BridgeUsage.rate_limited)
        ).group_by(col(BridgeUsage.network))
    )
    for network, errors, limited in refused.all():
        one = found.setdefault(network, PerNetwork())
        one.errors, one.rate_limited = int(errors or 0), int(limited or 0)
    return found


def print_networks(
    by_network: Mapping[str, PerNetwork], counts: Mapping[str, int], likes: int, fakes: Stats
) -> bool:
    """The table of networks; whether each one's likes all became clicks."""
    print(
        f"  {'network':<12}{'accounts':>9}{'pages':>7}{'likes':>8}{'clicks':>8}"
        f"{'requests':>10}{'(fake)':>8}{'429s':>6}{'over limit':>11}  rate limit"
    )
    complete = True
    for name, accounts in counts.items():
        one = by_network.get(name, PerNetwork())
        counted = one.outcomes.get(BridgeLikeOutcome.counted.value, 0)
        figures = fakes[name]
        print(
            f"  {name:<12}{accounts:>9}{one.pages:>7}{counted:>8}{one.clicks:>8}"
            f"{one.requests:>10}{figures['requests']:>8}{figures['rate_limited']:>6}"
            f"{figures['over_limit']:>11}  {LIMITS[name]}"
        )
        whole = accounts * likes
        if counted != whole or one.clicks != whole or one.finished != accounts:
            complete = False
            print(
                f"    {name}: NOT every like a click: {dict(one.outcomes)} of {whole} likes, "
                f"{one.clicks} clicks, {one.finished} of {accounts} rounds finished"
            )
    return complete
