"""Claims racing what else moves escrow: a settlement preparation giving a peer's
unpayable creators' shares to their identity escrow, and another account's claim. Each
cent is booked once; the second claimant of an identity is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.domain_errors import Conflict
from server.donations.clicks import CreatorRef, ensure_identity
from server.donations.close import close_period
from server.errors import status_of
from server.escrow.escrow import claim_identity
from server.models import (
    Actor,
    EscrowLine,
    Identity,
    LedgerAccount,
    LedgerKind,
    Peer,
    PeerState,
    Settlement,
    TransferKind,
)
from server.money.ledger import Owner, ledger_account_ids
from server.settlement import outgoing as settlement_batches
from server.settlement.outgoing import prepare_batches, rehome_to_identity
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    fediverse_thing,
    like,
    transfers,
)
from tests.support.mastodon import FakeMastodonServer
from tests.support.network import Network

BOB = "http://mastodon.test/users/bob"
CAROL = "http://mastodon.test/users/carol"
PEER = "mastodon.test"
PEER_ESCROW = Owner(LedgerKind.escrow_peer, peer_domain=PEER)


@pytest.fixture
def fake(network: Network) -> FakeMastodonServer:
    server = FakeMastodonServer(PEER)
    server.add("bob")
    server.add("carol")
    network.apps[server.host] = server.app()
    return server


async def _held_for_bob_and_carol(app: Starlette, fake: FakeMastodonServer) -> int:
    """ann's 4.00 EUR for bob and dan's 10.00 for carol, held for their instance after the
    October close; returns bob's identity."""
    db, settings = context(app).db, context(app).settings
    at = datetime(2026, 10, 5, tzinfo=UTC)
    ann = await donor(db, settings, "ann", funds=1000, budget=400)
    dan = await donor(db, settings, "dan", funds=1000, budget=1000)
    await like(db, settings, ann, fediverse_thing(fake.post("bob"), BOB), at=at)
    await like(db, settings, dan, fediverse_thing(fake.post("carol"), CAROL), at=at)
    await close_period(db, settings, "2026-10")
    assert await _lines(db) == [("held", PEER, BOB, 400), ("held", PEER, CAROL, 1000)]
    async with db.session() as session:
        found = await session.exec(select(Identity.id).where(Identity.external_id == BOB))
        return int(found.one() or 0)


async def _lines(db: Database) -> list[tuple[str, str, str, int]]:
    async with db.session() as session:
        rows = await session.exec(
            select(
                EscrowLine.state, EscrowLine.peer_domain, EscrowLine.creator_uri, EscrowLine.amount
            ).order_by(col(EscrowLine.creator_uri))
        )
        return [(state, domain, uri, int(amount)) for state, domain, uri, amount in rows.all()]


async def _active_peer(db: Database, fake: FakeMastodonServer) -> int:
    """bob's and carol's instance as an active settlement peer; its id."""
    async with db.transaction() as session:
        peer = Peer(
            domain=PEER,
            state=PeerState.active,
            currency="EUR",
            credit_limit=100_000,
            actor_uri=f"{fake.base}/actor",
            inbox=f"{fake.base}/inbox",
        )
        session.add(peer)
        await session.flush()
        return int(peer.id or 0)


def _preparing(app: Starlette, peer_id: int) -> asyncio.Task[list[Settlement]]:
    """A settlement preparation for the peer, started as a task."""
    running = context(app)
    remote = running.federation.remote
    return asyncio.create_task(prepare_batches(running.db, running.settings, remote, peer_id))


async def _claimed_once_by(app: Starlette, claimant: int, identity: int, carol: str) -> None:
    """bob's 4.00 went to the claimant once, and claiming again moves nothing."""
    db, settings = context(app).db, context(app).settings
    assert [row for row in await transfers(db) if row[4] == "not_payable"] == []
    assert await balance(db, settings, available(claimant)) == 400
    assert await balance(db, settings, PEER_ESCROW) == 1000
    assert await _lines(db) == [("claimed", PEER, BOB, 400), (carol, PEER, CAROL, 1000)]
    await assert_books_balance(db)
    async with db.transaction() as session:
        again = await claim_identity(session, settings, identity, claimant, verified=True)
    assert (again.moved, again.already_claimed) == (0, True)
    assert await balance(db, settings, available(claimant)) == 400


async def test_rehoming_leaves_alone_a_line_claimed_since_it_was_read(
    alpha: Starlette, fake: FakeMastodonServer
) -> None:
    # Given bob's share held for his instance, read by a preparation as held
    db, settings = context(alpha).db, context(alpha).settings
    bob = await _held_for_bob_and_carol(alpha, fake)
    cat = await donor(db, settings, "cat")
    async with db.session() as preparing:
        read = await preparing.exec(select(EscrowLine).where(EscrowLine.creator_uri == BOB))
        stale = list(read.all())
        await preparing.commit()  # SQLite has one writer: let the claim in
        # When cat claims bob's account before the preparation moves those lines
        async with db.transaction() as claiming:
            claim = await claim_identity(claiming, settings, bob, cat, verified=True)
        assert claim.moved == 400
        await rehome_to_identity(preparing, settings, PEER, stale, TransferKind.not_payable)
        await preparing.commit()
    # Then the preparation moved nothing more, and its copy of the line is the claimed one
    assert [line.state for line in stale] == ["claimed"]
    await _claimed_once_by(alpha, cat, bob, "held")


async def test_a_claim_committed_while_a_preparation_waits_is_not_paid_twice(
    alpha: Starlette, fake: FakeMastodonServer
) -> None:
    # Given bob's share held for his instance, which is an active peer and does not list
    # bob as payable; carol's share sits offered in the same peer escrow
    db, settings = context(alpha).db, context(alpha).settings
    bob = await _held_for_bob_and_carol(alpha, fake)
    cat = await donor(db, settings, "cat")
    peer = await _active_peer(db, fake)
    async with db.transaction() as session:
        await session.exec(
            update(EscrowLine).where(col(EscrowLine.creator_uri) == CAROL).values(state="offered")
        )
    other = Database(settings.database_url)
    try:
        # When cat's claim has moved bob's share but not committed yet
        async with other.transaction() as claiming:
            claim = await claim_identity(claiming, settings, bob, cat, verified=True)
            # And a preparation starts and waits on the claim's locks
            preparing = _preparing(alpha, peer)
            await _until_it_waits(db, preparing)
        # Then once the claim commits, the preparation finds nothing of bob's to move
        assert claim.moved == 400
        assert await asyncio.wait_for(preparing, 10) == []
    finally:
        await other.dispose()
    await _claimed_once_by(alpha, cat, bob, "offered")


async def _until_it_waits(db: Database, waiting: asyncio.Task[Any]) -> None:
    """PostgreSQL: until a session waits on a row lock. SQLite has one writer: the task's
    transaction waits for the other's to end (busy timeout); it must still be waiting a
    moment later."""
    if db.is_sqlite:
        await asyncio.sleep(0.5)
        assert not waiting.done(), "it did not wait for the other transaction"
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(1000):
        async with db.session() as session:
            waiting = (await (await session.connection()).execute(query)).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the preparation never waited on the claim")


async def test_a_claim_after_a_rival_claimed_the_identity_it_loaded_is_a_conflict(
    alpha: Starlette, fake: FakeMastodonServer
) -> None:
    # Given bob's share held, and cat's claim (as claim_fediverse_account does) has loaded
    # bob's identity, unclaimed
    db, settings = context(alpha).db, context(alpha).settings
    bob = await _held_for_bob_and_carol(alpha, fake)
    cat, eve = await donor(db, settings, "cat"), await donor(db, settings, "eve")
    other = Database(settings.database_url)
    try:
        async with db.session() as mine:
            identity = await ensure_identity(mine, CreatorRef("fediverse", BOB))
            assert identity.claimed_account_id is None
            if settings.is_sqlite:
                await mine.commit()  # one writer: eve's claim would wait for this one
            # When eve claims it on another connection and commits first
            async with other.transaction() as rival:
                assert (await claim_identity(rival, settings, bob, eve, verified=True)).moved
            # Then cat's claim sees eve's and is refused
            with pytest.raises(Conflict) as refused:
                await claim_identity(mine, settings, bob, cat, verified=True)
            assert status_of(refused.value) == 409
    finally:
        await other.dispose()
    # And the identity stays eve's, and the money moved once, to her
    async with db.session() as session:
        assert (await session.get_one(Identity, bob)).claimed_account_id == eve
    assert await balance(db, settings, available(cat)) == 0
    claims = [row[1:4] for row in await transfers(db) if row[4] == "escrow_claim"]
    assert claims == [(PEER_ESCROW.key, available(eve).key, 400)]
    await _claimed_once_by(alpha, eve, bob, "held")


async def test_a_preparation_waits_for_a_claims_lines_before_it_posts_anything(
    alpha: Starlette, fake: FakeMastodonServer
) -> None:
    # Given bob's share held for his instance, bob payable (a fresh cached actor with a
    # payment link of his own domain) and carol not, the instance an active peer
    db, settings = context(alpha).db, context(alpha).settings
    await _held_for_bob_and_carol(alpha, fake)
    peer = await _active_peer(db, fake)
    async with db.transaction() as session:
        session.add(
            Actor(
                uri=BOB,
                username="bob",
                domain=PEER,
                payment_link="http://mastodon.test/pay/bob",
                fetched_at=datetime.now(UTC),
            )
        )
    async with db.session() as session:
        peer_escrow = (await ledger_account_ids(session, settings, [PEER_ESCROW]))[PEER_ESCROW]
    other = Database(settings.database_url)
    try:
        async with other.transaction() as claiming:
            # When a claim has locked bob's line, as a claim locks its lines first
            await claiming.exec(
                update(EscrowLine)
                .where(col(EscrowLine.creator_uri) == BOB)
                .values(state=EscrowLine.state)
            )
            # And a preparation starts and waits on it
            preparing = _preparing(alpha, peer)
            await _until_it_waits(db, preparing)
            # Then the claim can still post to the peer's escrow: the preparation holds no
            # account while it waits for lines (it used to, after giving carol's share to
            # her identity escrow, and PostgreSQL cancelled one of the two as a deadlock)
            await claiming.exec(
                update(LedgerAccount)
                .where(col(LedgerAccount.id) == peer_escrow)
                .values(balance=LedgerAccount.balance)
            )
        # And once the claim ends, the preparation offers bob's share and rehomes carol's
        made = await asyncio.wait_for(preparing, 10)
    finally:
        await other.dispose()
    assert [batch.total for batch in made] == [400]
    assert await _lines(db) == [("offered", PEER, BOB, 400), ("held", "", CAROL, 1000)]
    await assert_books_balance(db)


async def test_a_claim_of_a_creator_the_preparation_rehomes_waits_and_is_paid_once(
    alpha: Starlette, fake: FakeMastodonServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given bob's and carol's shares held for their instance, an active peer that lists
    # neither as payable, and a preparation paused with their lines locked, just before it
    # gives them to the creators' identity escrow
    db, settings = context(alpha).db, context(alpha).settings
    await _held_for_bob_and_carol(alpha, fake)
    cat = await donor(db, settings, "cat")
    peer = await _active_peer(db, fake)
    async with db.session() as session:
        carol = (await session.exec(select(Identity.id).where(Identity.external_id == CAROL))).one()
    paused, go = asyncio.Event(), asyncio.Event()
    real_rehome = settlement_batches.rehome_to_identity

    async def rehome_later(*args: Any) -> None:
        paused.set()
        await go.wait()
        await real_rehome(*args)

    monkeypatch.setattr(settlement_batches, "rehome_to_identity", rehome_later)
    preparing = _preparing(alpha, peer)
    await asyncio.wait_for(paused.wait(), 10)
    other = Database(settings.database_url)
    try:
        # When cat claims carol's account meanwhile, on another connection
        async def claim() -> int:
            async with other.transaction() as claiming:
                done = await claim_identity(claiming, settings, carol or 0, cat, verified=True)
                return done.moved

        claiming = asyncio.create_task(claim())
        await _until_it_waits(db, claiming)
        go.set()
        # Then the preparation finishes (PostgreSQL found no deadlock to cancel), and the
        # claim then takes carol's share from her identity escrow, once
        assert await asyncio.wait_for(preparing, 10) == []
        assert await asyncio.wait_for(claiming, 10) == 1000
    finally:
        go.set()
        await other.dispose()
    assert await balance(db, settings, available(cat)) == 1000
    assert await balance(db, settings, PEER_ESCROW) == 0
    assert await _lines(db) == [("held", "", BOB, 400), ("claimed", "", CAROL, 1000)]
    await assert_books_balance(db)
