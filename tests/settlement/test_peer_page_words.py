"""What the admin's peer pages say once a step is done: a peer's notice that money waits is
gone once an agreement exists, and a statement shows payments in a column of their own."""

from __future__ import annotations

import json
import re

import httpx
from starlette.applications import Starlette

from server.context import context
from server.models import (
    InboxItem,
    Peer,
    PeerState,
    Settlement,
    SettlementPayment,
    SettlementState,
)
from server.models.base import utcnow
from server.models.settlement import PaymentState
from server.settlement.waiting_notice import SUMMARY
from tests.support.accounts import log_in, make_account

BETA_ACTOR = "http://beta.test/actor"


async def _admin(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "operator", admin=True)
    assert (await log_in(client, "operator")).status_code == 303


async def _notice_from_beta(app: Starlette) -> None:
    """beta.test's instance actor told ours that money waits for our creators."""
    ours = f"{context(app).settings.base_url}/actor"
    text = "Supporters on beta.test have set aside 7.00 EUR for 1 creators on your instance."
    note = {"type": "Note", "to": [ours], "summary": SUMMARY, "content": f"<p>{text}</p>"}
    body = {"id": "http://beta.test/notices/1/activity", "type": "Create", "object": note}
    async with context(app).db.transaction() as session:
        session.add(
            InboxItem(
                activity_id="http://beta.test/notices/1/activity",
                actor_uri=BETA_ACTOR,
                type="Create",
                body=json.dumps(body),
            )
        )


async def _peer(app: Starlette, state: PeerState) -> Peer:
    async with context(app).db.transaction() as session:
        peer = Peer(
            domain="beta.test", state=state, proposed_by="them", currency="EUR", credit_limit=5000
        )
        session.add(peer)
        await session.flush()
        return peer


async def test_the_notice_from_another_instance_is_shown_until_an_agreement_exists(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given beta.test's notice that money waits, and no agreement with it yet
    await _notice_from_beta(app)
    await _admin(app, client)
    before = await client.get("/admin/peers")
    assert "From other instances" in before.text
    assert "set aside 7.00 EUR" in before.text
    # When the admin agrees to settle with beta.test
    await _peer(app, PeerState.active)
    # Then the notice, and its call to act, are gone
    after = await client.get("/admin/peers")
    assert after.status_code == 200
    assert "From other instances" not in after.text
    assert "set aside 7.00 EUR" not in after.text


async def test_a_payment_has_its_own_column_in_the_statement(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given a batch of 7.00 EUR we accepted to owe beta.test, and our 2.00 EUR payment,
    # confirmed
    peer = await _peer(app, PeerState.active)
    async with context(app).db.transaction() as session:
        session.add(
            Settlement(
                uri="http://alpha.test/settlements/out1",
                peer_id=peer.id or 0,
                direction="out",
                period="2025-01",
                sequence=1,
                currency="EUR",
                total=700,
                accepted_total=700,
                state=SettlementState.accepted,
                document="{}",
                digest="0" * 64,
                answered_at=utcnow(),
            )
        )
        session.add(
            SettlementPayment(
                uri="http://alpha.test/settlements/p1",
                peer_id=peer.id or 0,
                direction="out",
                amount=200,
                reference="SEPA-2",
                state=PaymentState.confirmed,
                document="{}",
                answered_at=utcnow(),
            )
        )
    await _admin(app, client)
    # When the admin reads the statement
    page = await client.get("/admin/peers/beta.test/statement")
    assert page.status_code == 200
    # Then the payment is in the "Paid" column, and no column shows a negative amount
    assert '<th class="num">Paid</th>' in page.text
    rows = re.findall(r"<tr>(.*?)</tr>", page.text.split("<tbody>")[1], re.S)
    batch = next(row for row in rows if "batch 1" in row)
    payment = next(row for row in rows if "payment to beta.test" in row)
    assert re.search(r'class="num we-owe">\s*7\.00 EUR\s*<', batch)
    assert re.search(r'class="num we-owe">\s*<', payment)
    assert re.search(r'class="num paid">\s*we paid 2\.00 EUR\s*<', payment)
    assert "we owe them 5.00 EUR" in payment
    assert "-2.00" not in page.text
