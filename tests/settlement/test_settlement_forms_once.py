"""The peers page's money forms book once: paying a peer (a payment notice) and confirming
a peer's payment each redirect after their POST, and the same form sent again (a reload,
a second click) is refused with nothing booked, on stored rows in process."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from activitypub.settlement import PaymentNotice, build_payment_notice, envelope_fields
from activitypub.settlement.wire import Envelope
from server.context import context
from server.models import Peer, PeerState, Settlement, SettlementPayment, SettlementState, Transfer
from server.models.base import utcnow
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.ledger import assert_books_balance
from tests.support.settlement import eur


def _notice_document() -> str:
    """The peer's payment notice as it sent it (its signature is not checked again here)."""
    envelope = Envelope(
        id="http://beta.test/settlements/p1",
        actor="http://beta.test/actor",
        recipient="http://test.example/actor",
        published=datetime.now(UTC),
    )
    notice = PaymentNotice(
        **envelope_fields(envelope),
        amount=eur(700),
        reference="SEPA-9",
        settles=("http://x.test/settlements/in",),
    )
    return json.dumps(build_payment_notice(notice))


async def _peer_with_open_batches(app: Starlette) -> None:
    """An active peer: we owe it 9.00 (our batch, accepted); it says it paid us 7.00."""
    async with context(app).db.transaction() as session:
        peer = Peer(
            domain="beta.test",
            state=PeerState.active,
            currency="EUR",
            credit_limit=50_000,
            actor_uri="http://beta.test/actor",
            inbox="http://beta.test/inbox",
        )
        session.add(peer)
        await session.flush()
        for direction, total in (("out", 900), ("in", 700)):
            session.add(
                Settlement(
                    uri=f"http://x.test/settlements/{direction}",
                    peer_id=peer.id or 0,
                    direction=direction,
                    period="2025-01",
                    sequence=1,
                    currency="EUR",
                    total=total,
                    accepted_total=total,
                    state=SettlementState.accepted,
                    document="{}",
                    digest="0" * 64,
                    answered_at=utcnow(),
                )
            )
        session.add(
            SettlementPayment(
                uri="http://beta.test/settlements/p1",
                peer_id=peer.id or 0,
                direction="in",
                amount=700,
                reference="SEPA-9",
                document=_notice_document(),
            )
        )


async def _transfers(app: Starlette, prefix: str) -> list[str]:
    async with context(app).db.session() as session:
        keys = (await session.exec(select(Transfer.idempotency_key))).all()
    return [key for key in keys if key.startswith(prefix)]


async def test_paying_a_peer_twice_sends_one_notice(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _peer_with_open_batches(app)
    await make_account(app, "operator", admin=True)
    assert (await log_in(client, "operator")).status_code == 303
    token = csrf_from((await client.get("/admin/peers")).text)
    form = {"amount": "2.00", "reference": "SEPA-1", "csrf_token": token}
    first = await client.post("/admin/peers/beta.test/paid", data=form)
    again = await client.post("/admin/peers/beta.test/paid", data=form)
    assert first.status_code == 303 and again.status_code == 409
    assert "owes beta.test nothing" in again.text
    async with context(app).db.session() as session:
        notices = (
            await session.exec(
                select(SettlementPayment).where(SettlementPayment.direction == "out")
            )
        ).all()
    assert len(notices) == 1


async def test_confirming_a_peers_payment_twice_books_it_once(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _peer_with_open_batches(app)
    await make_account(app, "operator", admin=True)
    assert (await log_in(client, "operator")).status_code == 303
    token = csrf_from((await client.get("/admin/peers")).text)
    first = await client.post("/admin/payments/1/confirm", data={"csrf_token": token})
    again = await client.post("/admin/payments/1/confirm", data={"csrf_token": token})
    assert first.status_code == 303 and again.status_code == 409
    assert "is confirmed already" in again.text
    assert await _transfers(app, "settle:paid:") == ["settle:paid:1"]
    await assert_books_balance(context(app).db)
