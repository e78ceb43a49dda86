"""The waiting page once nothing waits says what became of the money: paid to the
creator's instance by a settlement, claimed here, or returned to the supporters; and it no
longer says how to claim what was claimed or paid."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.donations.clicks import CreatorRef, ThingRef
from server.donations.close import close_period
from server.donations.periods import period_of, period_start, previous_period
from server.models import CreatorNotice, EscrowLine, Identity, LedgerKind
from server.models.base import utcnow
from server.money.ledger import Owner, ledger_account_ids
from tests.support.accounts import make_account
from tests.support.ledger import donor, like

LAST_MONTH = previous_period(period_of(utcnow()))
BOB = "https://mastodon.example/users/bob"
HOW_TO_CLAIM = "How to claim it"


async def _notice(app: Starlette) -> None:
    """ann liked bob's post last month; the month is closed; a notice was sent to bob."""
    db, settings = context(app).db, context(app).settings
    creator = CreatorRef("fediverse", BOB, "@bob@mastodon.example", "https://mastodon.example/@bob")
    ann = await donor(db, settings, "ann", funds=2000, budget=300)
    at = period_start(LAST_MONTH) + timedelta(days=1)
    await like(db, settings, ann, ThingRef(f"{BOB}/statuses/1", creator), at=at)
    await close_period(db, settings, LAST_MONTH)
    async with db.transaction() as session:
        bob = (await session.exec(select(Identity.id).where(Identity.external_id == BOB))).one()
        session.add(
            CreatorNotice(
                creator_uri=BOB,
                month=period_of(utcnow()),
                identity_id=bob or 0,
                token="tok",
                amount=300,
            )
        )


async def _lines(app: Starlette, **values: object) -> None:
    async with context(app).db.transaction() as session:
        await session.exec(update(EscrowLine).values(resolved_at=utcnow(), **values))


async def _claimed(app: Starlette, **values: object) -> None:
    async with context(app).db.transaction() as session:
        await session.exec(
            update(Identity).where(col(Identity.external_id) == BOB).values(**values)
        )


async def _page(client: httpx.AsyncClient) -> str:
    page = await client.get("/waiting/tok")
    assert page.status_code == 200
    return " ".join(page.text.split())


async def test_money_paid_to_the_creators_instance_says_so(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given bob claimed his identity through his instance, a peer, and its settlement paid
    await _notice(app)
    await _claimed(app, claimed_by_actor_uri="https://peer.example/users/bob", claimed_at=utcnow())
    await _lines(app, state="settled", peer_domain="peer.example")
    # When bob opens the page his notice links to
    text = await _page(client)
    # Then it says the money went to his instance, not back to the supporters
    assert "Nothing is set aside for @bob@mastodon.example any more" in text
    assert (
        "It was paid to @bob@mastodon.example's instance, peer.example, in a settlement"
    ) in text.replace("&#39;", "'")
    assert "went back to the supporters" not in text
    assert HOW_TO_CLAIM not in text


async def test_money_on_its_way_to_the_creators_instance_says_so(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _notice(app)
    await _claimed(app, claimed_by_actor_uri="https://peer.example/users/bob", claimed_at=utcnow())
    # (rows only: the test reads no balances)
    async with context(app).db.transaction() as session:
        owner = Owner(LedgerKind.escrow_peer, peer_domain="peer.example")
        ids = await ledger_account_ids(session, context(app).settings, [owner])
        await session.exec(
            update(EscrowLine).values(peer_domain="peer.example", ledger_account_id=ids[owner])
        )
    text = (await _page(client)).replace("&#39;", "'")
    assert "claimed through @bob@mastodon.example's instance, peer.example" in text
    assert "paid to it in the next settlement" in text
    assert HOW_TO_CLAIM not in text


async def test_money_claimed_here_says_so(app: Starlette, client: httpx.AsyncClient) -> None:
    await _notice(app)
    bob = await make_account(app, "bob")
    await _claimed(app, claimed_account_id=bob.id, claimed_at=utcnow())
    await _lines(app, state="claimed")
    text = await _page(client)
    assert "It was claimed here, on likewise.test, by @bob@mastodon.example." in text
    assert "went back to the supporters" not in text
    assert HOW_TO_CLAIM not in text


async def test_money_returned_says_so_and_still_says_how_to_claim(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _notice(app)
    await _lines(app, state="returned")
    text = await _page(client)
    assert "It went back to the supporters, unclaimed." in text
    assert "paid to" not in text and "claimed here" not in text
    assert HOW_TO_CLAIM in text
