"""Bridges end to end on real instances (`likewise serve`, its worker inside) and the fakes of
Mastodon and Bluesky on loopback ports, all over real HTTP: a donor on alpha connects a
Mastodon account (OAuth through the pages) and a Bluesky account (by proof); likes given
there become clicks when polled; a re-poll and a restart make no duplicate; the month
closes; a creator of alpha (her post favourited on Mastodon, her Bluesky identity claimed on
alpha) is paid at once, one who claims on the peer beta is paid by settlement, an unclaimed
one's share waits in escrow and returns to the donor after the term. The books balance on
both instances throughout, and neither fake saw a request over its rate limit.

(The donor's linked Mastodon actor sending a Like to the inbox, counted once when the poll
sees the same favourite, is tests/connections/test_linked.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select

from server.connections.polling import enqueue_due
from server.db.engine import Database
from server.models import (
    Account,
    BridgeLike,
    Click,
    ConnectedAccount,
    EscrowLine,
    Identity,
)
from server.models.base import utcnow
from server.settings import Settings
from server.settlement.peering import PREPARE_JOB
from tests.support.accounts import CSRF_INPUT
from tests.support.fakes.bluesky import FakeBluesky
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.fakes.server import serve
from tests.support.instances import LiveInstance
from tests.support.ledger import assert_books_balance, balance, wallet
from tests.support.live import (
    FAST,
    Start,
    claim_by_bridge,
    claims,
    close,
    creator_balances,
    eventually,
    jobs_finished,
    ledger_ok,
    on,
    peer,
    post,
    user,
)

pytestmark = pytest.mark.live

T = TypeVar("T")
CODE = re.compile(r"likewise-[0-9a-f]+")
STATE = re.compile(r'name="state" value="([^"]+)"')
SHARE = 200  # four things liked, 2.00 EUR each
BUDGET = 4 * SHARE


@pytest.fixture
def mastodon() -> Iterator[FakeMastodonApi]:
    """The fake Mastodon API; its user `donor` approves the authorization at once."""
    fake = FakeMastodonApi()
    with serve(fake):
        yield fake


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    fake = FakeBluesky()
    with serve(fake):
        yield fake


# --- the instance's database, from the test process -----------------------------------------


def account_id(instance: LiveInstance, username: str) -> int:
    async def work(db: Database, settings: Settings) -> int:
        async with db.session() as session:
            found = await session.exec(select(Account.id).where(Account.username == username))
            return int(found.one() or 0)

    return on(instance, work)


Seen = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def seen(instance: LiveInstance) -> Seen:
    """(each click's (source, source_ref), each bridge_like's (item, outcome)), in order."""

    async def work(db: Database, settings: Settings) -> Seen:
        async with db.session() as session:
            clicks = await session.exec(
                select(Click.source, Click.source_ref).order_by(col(Click.id))
            )
            likes = await session.exec(
                select(BridgeLike.item_id, BridgeLike.outcome).order_by(col(BridgeLike.id))
            )
            return (
                [(source, ref or "") for source, ref in clicks.all()],
                [(item, str(outcome)) for item, outcome in likes.all()],
            )

    return on(instance, work)


def connections(instance: LiveInstance) -> list[ConnectedAccount]:
    async def work(db: Database, settings: Settings) -> list[ConnectedAccount]:
        async with db.session() as session:
            query = select(ConnectedAccount).order_by(col(ConnectedAccount.id))
            return list((await session.exec(query)).all())

    return on(instance, work)


def poll(instance: LiveInstance) -> None:
    """Make every connected account due and queue its poll as the sweep does; the
    instance's own worker runs the round. Returns when every account's round is over."""
    before = {row.id: row.last_checked_at for row in connections(instance)}

    async def work(db: Database, settings: Settings) -> int:
        async with db.transaction() as session:
            await session.exec(
                update(ConnectedAccount).values(next_poll_at=utcnow() - timedelta(seconds=1))
            )
        return await enqueue_due(db)

    assert on(instance, work) == len(before)

    def over() -> bool:
        rows = connections(instance)
        return all(
            row.round_started_at is None
            and row.last_checked_at is not None
            and row.last_checked_at != before[row.id]
            for row in rows
        )

    eventually(over, timeout=60)


# --- connecting through the pages --------------------------------------------------------------


def _csrf(page: httpx.Response) -> str:
    found = CSRF_INPUT.search(page.text)
    assert found is not None, page.text
    return found.group(1)


@contextmanager
def logged_in(instance: LiveInstance, username: str) -> Iterator[httpx.Client]:
    """A browser's cookies, logged in to the instance's pages."""
    with httpx.Client(base_url=instance.base_url, timeout=30) as web:
        page = web.get("/login")
        answer = web.post(
            "/login",
            data={"login": username, "password": "pw-123456", "csrf_token": _csrf(page)},
        )
        assert answer.status_code == 303, answer.text
        yield web


def connect_mastodon(web: httpx.Client, fake: FakeMastodonApi) -> None:
    """The form, the fake's authorization page (it approves at once), back to the
    callback, as a browser follows the redirects."""
    page = web.get("/settings/connections")
    answer = web.post(
        "/settings/connections/connect",
        data={"network": "fediverse", "handle": f"@donor@{fake.host}", "csrf_token": _csrf(page)},
    )
    assert answer.status_code == 303, answer.text
    authorized = httpx.get(answer.headers["location"])
    assert authorized.status_code in (302, 307), authorized.text
    back = urlsplit(authorized.headers["location"])
    done = web.get(f"{back.path}?{back.query}")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/settings/connections"


def connect_bluesky(web: httpx.Client, fake: FakeBluesky, handle: str) -> str:
    """Handle, then the code placed in the profile description, then the check."""
    did = fake.add_account(handle)
    page = web.get("/settings/connections")
    answer = web.post(
        "/settings/connections/connect",
        data={"network": "bluesky", "handle": handle, "csrf_token": _csrf(page)},
    )
    assert answer.status_code == 303, answer.text
    proof = web.get(answer.headers["location"])
    code, state = CODE.search(proof.text), STATE.search(proof.text)
    assert code is not None and state is not None, proof.text
    fake.set_description(did, f"Likes photographs. {code.group(0)}")
    done = web.post(
        "/settings/connections/bluesky/callback",
        data={"state": state.group(1), "csrf_token": _csrf(proof)},
    )
    assert done.status_code == 303, done.text
    return did


# --- claims -------------------------------------------------------------------------------------


def claim_on_alpha(instance: LiveInstance, did: str, username: str) -> None:
    """The admin records that `username` proved the Bluesky identity (`escrow claim`)."""

    async def work(db: Database, settings: Settings) -> int:
        async with db.session() as session:
            found = await session.exec(
                select(Identity.id).where(
                    Identity.network == "bluesky", Identity.external_id == did
                )
            )
            return int(found.one() or 0)

    identity = on(instance, work)
    assert "claimed" in instance.cli("escrow", "claim", str(identity), username).stdout


def escrow(instance: LiveInstance) -> list[tuple[str, int, str, str]]:
    """(identity's external id, amount, state, peer domain) of each escrow line."""

    async def work(db: Database, settings: Settings) -> list[tuple[str, int, str, str]]:
        async with db.session() as session:
            found = await session.exec(
                select(
                    Identity.external_id,
                    EscrowLine.amount,
                    EscrowLine.state,
                    EscrowLine.peer_domain,
                )
                .join(Identity, col(Identity.id) == EscrowLine.identity_id)
                .order_by(col(Identity.external_id))
            )
            return [(e, a, str(s), p) for e, a, s, p in found.all()]

    return on(instance, work)


def age_escrow(instance: LiveInstance, external_id: str) -> None:
    """One identity's escrow line set aside longer ago than LIKEWISE_ESCROW_DAYS."""

    async def work(db: Database, settings: Settings) -> None:
        async with db.transaction() as session:
            found = await session.exec(
                select(Identity.id).where(Identity.external_id == external_id)
            )
            identity = int(found.one() or 0)
            aged = utcnow() - timedelta(days=settings.escrow_days + 1)
            await session.exec(
                update(EscrowLine)
                .where(col(EscrowLine.identity_id) == identity)
                .values(created_at=aged)
            )

    on(instance, work)


def books(instance: LiveInstance, username: str) -> int:
    """The donor's wallet, after the books are checked (tests/support/ledger.py and
    `likewise ledger check`)."""
    ledger_ok(instance)
    donor = account_id(instance, username)

    async def work(db: Database, settings: Settings) -> int:
        await assert_books_balance(db)
        return await balance(db, settings, wallet(donor))

    return on(instance, work)


# --- the test -----------------------------------------------------------------------------------


def test_likes_elsewhere_become_clicks_then_payments_escrow_and_returns(
    instances: Start, mastodon: FakeMastodonApi, bluesky: FakeBluesky
) -> None:
    # Given alpha (the fake Bluesky configured as its Bluesky) and its peer beta
    env = {**FAST, "LIKEWISE_BUDGET_DEFAULT": str(BUDGET)}
    alpha = instances(autostart=False, env=env)
    alpha.data_dir.mkdir(parents=True)
    (alpha.data_dir / "config.toml").write_text(
        f'[bridges.bluesky]\nbase_url = "{bluesky.base}"\ndirectory_url = "{bluesky.base}"\n'
    )
    alpha.start()
    beta = instances(env=FAST)
    peer(alpha, beta)
    user(alpha, "dora")
    cleo = user(alpha, "cleo")
    carol = user(beta, "carol")
    alpha.cli("wallet", "credit", "dora", "10.00", "--reference", "bank-1")
    # And dora connects her Mastodon account and her Bluesky account through the pages
    with logged_in(alpha, "dora") as web:
        connect_mastodon(web, mastodon)
        dora_did = connect_bluesky(web, bluesky, "dora.test")
        # (each connection's first round runs at once, by the worker)
        eventually(
            lambda: [r.last_checked_at is not None for r in connections(alpha)] == [True, True]
        )
        assert [(r.network, r.external_id) for r in connections(alpha)] == [
            ("fediverse", f"http://{mastodon.host}/users/donor"),
            ("bluesky", dora_did),
        ]
        # When she favourites erin's status and cleo's post here on Mastodon, and likes
        # cleo's and carol's posts on Bluesky
        erin = mastodon.favourite("donor", author="erin@remote.example")
        note = post(alpha, cleo, "the heron, from the other bank")
        cleo_actor = f"{alpha.base_url}/users/cleo"
        here = mastodon.favourite("donor", uri=note["uri"], author_uri=cleo_actor)
        cleo_did = bluesky.add_account("cleo.test")
        carol_did = bluesky.add_account("carol.test")
        cleo_like = bluesky.like(dora_did, bluesky.post(cleo_did, "a heron at dawn"))
        carol_like = bluesky.like(dora_did, bluesky.post(carol_did, "rain on the river"))
        # And alpha polls
        poll(alpha)
        # Then each like is one click, from its bridge
        clicks, likes = seen(alpha)
        assert sorted(clicks) == sorted(
            [
                ("bridge:fediverse", erin["status_id"]),
                ("bridge:fediverse", here["status_id"]),
                ("bridge:bluesky", cleo_like["uri"]),
                ("bridge:bluesky", carol_like["uri"]),
            ]
        )
        assert sorted(likes) == sorted(
            [
                (erin["uri"], "counted"),
                (note["uri"], "counted"),
                (cleo_like["subject"], "counted"),
                (carol_like["subject"], "counted"),
            ]
        )
        page = web.get("/settings/connections")
        assert page.text.count("2 likes this month") == 2, page.text
    # When alpha polls again, and again after a restart
    poll(alpha)
    assert seen(alpha) == (clicks, likes)
    alpha.stop()
    alpha.start()
    poll(alpha)
    # Then nothing is counted twice
    assert seen(alpha) == (clicks, likes)
    assert [row.likes_counted for row in connections(alpha)] == [2, 2]
    assert books(alpha, "dora") == 1000
    # Given cleo proved the Bluesky identity on alpha before the month closes
    claim_on_alpha(alpha, cleo_did, "cleo")
    # When the month closes
    close(alpha)
    eventually(lambda: jobs_finished(alpha, PREPARE_JOB))
    # Then cleo is paid at once for her post and her Bluesky post (available, not pending);
    # carol's and erin's shares wait in escrow
    assert creator_balances(alpha, cleo) == (0, 2 * SHARE)
    erin_actor = "https://remote.example/users/erin"
    assert escrow(alpha) == sorted(
        [
            (carol_did, SHARE, "held", ""),
            (erin_actor, SHARE, "held", "remote.example"),
        ]
    )
    assert books(alpha, "dora") == 1000 - BUDGET
    # When carol claims her Bluesky identity on beta, which tells its peers
    assert claim_by_bridge(beta, "carol", carol_did, "carol.test") == 1
    # Then alpha accepts the claim, and its next settlement pays carol on beta
    carol_actor = f"{beta.base_url}/users/carol"
    eventually(lambda: ("out", alpha.domain, carol_actor, "accepted") in claims(beta))
    assert ("in", beta.domain, carol_actor, "accepted") in claims(alpha)
    assert "queued" in alpha.cli("settlements", "send").stdout
    eventually(lambda: creator_balances(beta, carol) == (SHARE, 0), timeout=90)
    assert escrow(alpha) == sorted(
        [
            (carol_did, SHARE, "settled", beta.domain),
            (erin_actor, SHARE, "held", "remote.example"),
        ]
    )
    # When erin's share has waited longer than the escrow term
    age_escrow(alpha, erin_actor)
    assert "returned 2.00" in alpha.cli("escrow", "expire").stdout
    # Then it is back in dora's wallet, and only it
    assert escrow(alpha) == sorted(
        [
            (carol_did, SHARE, "settled", beta.domain),
            (erin_actor, SHARE, "returned", "remote.example"),
        ]
    )
    assert books(alpha, "dora") == 1000 - BUDGET + SHARE
    ledger_ok(beta)
    assert "Traceback" not in beta.read_log()
    # And no request went over either fake's rate limit
    assert (mastodon.over_limit, bluesky.over_limit) == (0, 0)
