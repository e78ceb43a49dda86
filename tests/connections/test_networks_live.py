"""Every network with one app, end to end on a real instance (`likewise serve`, its worker
inside) and each network's fake on its own loopback port, all over real HTTP: a donor
connects Flickr, SoundCloud, Vimeo, X, GitHub, YouTube, Tumblr and Dailymotion through the
pages (each network's sign-in, back to the callback); one like on each becomes one click
when polled; the month closes and splits the budget among them; a creator who connected her
Flickr account and one who connected his SoundCloud account are paid at once, and the six
other creators' shares wait in escrow. The books balance, the admin's networks page counts
the polls, and no fake saw a request over its rate limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import col, select

from server.db.engine import Database
from server.models import EscrowLine, Identity
from server.settings import Settings
from server.settlement.peering import PREPARE_JOB
from tests.connections.test_bridges_live import _csrf, books, connections, logged_in, poll, seen
from tests.support.fakes import youtube as youtube_fake
from tests.support.fakes.dailymotion import FakeDailymotion
from tests.support.fakes.flickr import CONSUMER_KEY, CONSUMER_SECRET, FakeFlickr
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.oauth2 import CLIENT_ID, CLIENT_SECRET
from tests.support.fakes.server import serve
from tests.support.fakes.soundcloud import FakeSoundCloud
from tests.support.fakes.tumblr import FakeTumblr
from tests.support.fakes.vimeo import FakeVimeo
from tests.support.fakes.x import FakeX
from tests.support.fakes.youtube import FakeYoutube
from tests.support.instances import LiveInstance
from tests.support.live import (
    FAST,
    Start,
    close,
    creator_balances,
    eventually,
    jobs_finished,
    on,
    user,
)

pytestmark = pytest.mark.live

SHARE = 100  # eight things liked, 1.00 EUR each
NETWORKS = ["flickr", "soundcloud", "vimeo", "x", "github", "youtube", "tumblr", "dailymotion"]
BUDGET = SHARE * len(NETWORKS)


@dataclass
class Fakes:
    flickr: FakeFlickr
    soundcloud: FakeSoundCloud
    vimeo: FakeVimeo
    x: FakeX
    github: FakeGitHub
    youtube: FakeYoutube
    tumblr: FakeTumblr
    dailymotion: FakeDailymotion
    bases: dict[str, str]

    def config(self) -> str:
        """config.toml: every network at its fake, with the fake's app credentials."""
        tables = []
        for name in NETWORKS:
            key, secret = (
                (CONSUMER_KEY, CONSUMER_SECRET)
                if name == "flickr"
                else (
                    CLIENT_ID,
                    CLIENT_SECRET,
                )
            )
            table = f'[bridges.{name}]\nclient_id = "{key}"\nclient_secret = "{secret}"\n'
            table += f'base_url = "{self.bases[name]}"\n'
            if name == "x":
                table += "monthly_requests = 1000\n"
            tables.append(table)
        return "\n".join(tables)

    def sign_in_as(self, user: str) -> None:
        """Whom each network's authorization page signs in next."""
        self.flickr.authorize_as = user
        self.flickr.add_user(user)
        self.soundcloud.add_user(user)
        self.vimeo.add_user(user)
        self.dailymotion.add_user(user)
        self.x.add_account(user)
        self.github.add_account(user)
        self.youtube.add_account(user)
        self.tumblr.add_account(user)
        self.soundcloud.provider.user = self.vimeo.provider.user = user
        self.x.provider.user = self.github.provider.user = self.youtube.provider.user = user
        self.tumblr.provider.user = self.dailymotion.provider.user = user


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    # Likes given now: the fakes that keep a clock of their own start it at this moment
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(youtube_fake, "START", now)
    made: dict[str, Any] = {
        "flickr": FakeFlickr(),
        "soundcloud": FakeSoundCloud(),
        "vimeo": FakeVimeo(_clock=now),
        "x": FakeX(),
        "github": FakeGitHub(_clock=now),
        "youtube": FakeYoutube(),
        "tumblr": FakeTumblr(),
        "dailymotion": FakeDailymotion(),
    }
    with ExitStack() as stack:
        bases = {name: stack.enter_context(serve(fake)) for name, fake in made.items()}
        yield Fakes(**made, bases=bases)


def connect(web: httpx.Client, network: str) -> None:
    """The Connect button (no handle asked), the network's sign-in (it approves at once),
    back to the callback, as a browser follows the redirects."""
    page = web.get("/settings/connections")
    assert f'value="{network}"' in page.text, page.text
    answer = web.post(
        "/settings/connections/connect",
        data={"network": network, "csrf_token": _csrf(page)},
    )
    assert answer.status_code == 303, answer.text
    authorized = httpx.get(answer.headers["location"])
    assert authorized.status_code in (302, 303, 307), authorized.text
    back = urlsplit(authorized.headers["location"])
    done = web.get(f"{back.path}?{back.query}")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/settings/connections"


def like_on_each(fakes: Fakes) -> None:
    """One like by the donor on each network, of a work by a creator there (fiona's photo,
    sam's track, six others')."""
    now = int(time.time())
    fakes.flickr.fave("donor", owner="fiona", date=now)
    fakes.soundcloud.like("donor", author="sam")
    fakes.vimeo.like("donor", owner="rosalind")
    fakes.x.like("donor", author="xavier")
    fakes.github.star("donor", owner="marlowe")
    fakes.youtube.like("donor", owner="", title="a river at night")
    fakes.tumblr.like("donor", blog="tidepools", at=now)
    fakes.dailymotion.like("donor", owner="atelier")


Escrowed = list[tuple[str, int, str]]


def escrow_by_network(instance: LiveInstance) -> Escrowed:
    """(network, amount, state) of each escrow line, by network."""

    async def work(db: Database, settings: Settings) -> Escrowed:
        async with db.session() as session:
            found = await session.exec(
                select(Identity.network, EscrowLine.amount, EscrowLine.state)
                .join(Identity, col(Identity.id) == EscrowLine.identity_id)
                .order_by(col(Identity.network))
            )
            return [(n, a, str(s)) for n, a, s in found.all()]

    return on(instance, work)


def creator_connects(instance: LiveInstance, fakes: Fakes, username: str, network: str) -> None:
    """A creator of alpha connects her account there (the same name on both): a claim."""
    fakes.sign_in_as(username)
    with logged_in(instance, username) as web:
        connect(web, network)
    fakes.sign_in_as("donor")


def test_a_like_on_every_network_is_a_click_and_the_close_pays_or_holds_each_share(
    instances: Start, fakes: Fakes
) -> None:
    # Given alpha with every network configured at its fake
    env = {**FAST, "LIKEWISE_BUDGET_DEFAULT": str(BUDGET)}
    alpha = instances(autostart=False, env=env)
    alpha.data_dir.mkdir(parents=True)
    (alpha.data_dir / "config.toml").write_text(fakes.config())
    alpha.start()
    user(alpha, "dora")
    fiona = user(alpha, "fiona")
    sam = user(alpha, "sam")
    alpha.cli("wallet", "credit", "dora", "10.00", "--reference", "bank-1")
    # And fiona connected her Flickr account and sam his SoundCloud account: their claims
    creator_connects(alpha, fakes, "fiona", "flickr")
    creator_connects(alpha, fakes, "sam", "soundcloud")
    # When dora connects every network through the pages
    with logged_in(alpha, "dora") as web:
        for network in NETWORKS:
            connect(web, network)
        # (each connection's first round runs at once, by the worker: it takes note of what
        # is there already)
        eventually(lambda: all(r.last_checked_at is not None for r in connections(alpha)), 60)
        mine = [r for r in connections(alpha) if r.handle and r.network in NETWORKS]
        assert sorted({r.network for r in mine}) == sorted(NETWORKS)
        # And likes one work on each, and alpha polls
        like_on_each(fakes)
        poll(alpha)
        # Then each like is one click from its network's bridge, counted
        clicks, likes = seen(alpha)
        assert sorted(source for source, _ in clicks) == sorted(f"bridge:{n}" for n in NETWORKS)
        assert [outcome for _, outcome in likes] == ["counted"] * len(NETWORKS)
        page = web.get("/settings/connections")
        assert page.text.count("1 like this month") == len(NETWORKS), page.text
    # When alpha polls again: nothing counted twice
    poll(alpha)
    assert seen(alpha) == (clicks, likes)
    assert books(alpha, "dora") == 1000
    # When the month closes
    close(alpha)
    eventually(lambda: jobs_finished(alpha, PREPARE_JOB))
    # Then fiona and sam are paid at once (available), each for one share
    assert creator_balances(alpha, fiona) == (0, SHARE)
    assert creator_balances(alpha, sam) == (0, SHARE)
    # And the six other creators' shares wait in escrow, one per network
    held = sorted(set(NETWORKS) - {"flickr", "soundcloud"})
    assert escrow_by_network(alpha) == [(n, SHARE, "held") for n in held]
    assert books(alpha, "dora") == 1000 - BUDGET
    # When rosalind, whose Vimeo video dora liked, joins alpha after the close and connects
    # her Vimeo account
    rosalind = user(alpha, "rosalind")
    creator_connects(alpha, fakes, "rosalind", "vimeo")
    # Then what waited for her is hers, and her connected-accounts page says so
    assert creator_balances(alpha, rosalind) == (0, SHARE)
    assert ("vimeo", SHARE, "claimed") in escrow_by_network(alpha)
    with logged_in(alpha, "rosalind") as web:
        her_page = " ".join(web.get("/settings/connections").text.split())
    said = "As a creator: 1.00 EUR that supporters set aside for this account came to you."
    assert said in her_page, her_page
    # And the admin's networks page shows each network's account and its polls
    alpha.cli(
        "users", "create", "ada", "--email", "ada@example.org", "--password", "pw-123456", "--admin"
    )
    with logged_in(alpha, "ada") as web:
        page = web.get("/admin/networks")
    assert page.status_code == 200, page.text
    for network in NETWORKS:
        shown = " ".join(page.text.split(f'data-network="{network}"')[1].split("</li>")[0].split())
        connected = 2 if network in ("flickr", "soundcloud", "vimeo") else 1  # creators' too
        assert f"{connected} connected" in shown, shown
        polls = int(shown.split(" polls")[0].rsplit(">", 1)[1])
        assert polls >= 3, shown  # the first round, and two polls
    # X's reads and YouTube's quota units came out of the instance's budgets
    for network, said, limit in (
        ("x", "Requests this month", 1000),
        ("youtube", "Quota units today (Pacific time)", 10_000),
    ):
        shown = " ".join(page.text.split(f'data-network="{network}"')[1].split("</li>")[0].split())
        used = int(shown.split(f"{said}: ")[1].split(" ")[0])
        assert f"{said}: {used} of {limit}" in shown and used >= 3, shown
    # And no fake saw a request over its rate limit
    assert all(fake.over_limit == 0 for fake in _all(fakes)), [f.over_limit for f in _all(fakes)]
    assert "Traceback" not in alpha.read_log()


def _all(fakes: Fakes) -> list[Any]:
    return [getattr(fakes, name) for name in NETWORKS]
