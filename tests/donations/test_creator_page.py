"""The creator's page (/money/creator): this month's projected income and likes per post
(named by their first words), the payout form hidden below the minimum with what is left
to go, a payout request confirmed and its state explained with its dates, and supporters
counted on peer instances as well as here."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import (
    Account,
    Direction,
    LedgerKind,
    LineState,
    Peer,
    PeerState,
    Settlement,
    SettlementLineRow,
    SettlementState,
    TransferKind,
)
from server.models.base import utcnow
from server.money.funding import Funding, credit_wallet
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from tests.support.accounts import csrf_from, log_in, make_account, make_token, post_status
from tests.support.ledger import donor

HTML = {"accept": "text/html"}


def _text(response: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


async def _available(app: Starlette, account_id: int, amount: int) -> None:
    """Money in the creator's available balance, as a claim leaves it."""
    db, settings = context(app).db, context(app).settings
    source = Owner(LedgerKind.donor_wallet, account_id=account_id)
    target = Owner(LedgerKind.creator_available, account_id=account_id)
    async with db.transaction() as session:
        await credit_wallet(session, settings, Funding(account_id, amount, f"seed-{amount}"))
        ids = await ledger_account_ids(session, settings, [source, target])
        spec = TransferSpec(
            f"test:available:{amount}", ids[source], ids[target], amount, TransferKind.escrow_claim
        )
        await post_transfer(session, spec)


async def test_the_creator_page_shows_this_months_income_and_likes_per_post(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given cat's two posts; dora (budget 6.00) likes both and bob's page, erin (4.00) one
    db, settings = context(app).db, context(app).settings
    cat = await make_account(app, "cat")
    auth = {"Authorization": f"Bearer {await make_token(app, cat)}"}
    song = await post_status(client, auth, status="My first song about the sea and the rain")
    zine = await post_status(client, auth, status="A zine")
    await donor(db, settings, "dora", funds=2000, budget=600)
    await donor(db, settings, "erin", funds=2000, budget=400)
    for name, ids in (("dora", (song["id"], zine["id"])), ("erin", (song["id"],))):
        await make_token(app, await _account(app, name))
        await log_in(client, name)
        page = await client.get(f"/@cat/{ids[0]}")
        for note_id in ids:
            form = {"csrf_token": csrf_from(page.text)}
            assert (await client.post(f"/@cat/{note_id}/like", data=form)).status_code == 303
        client.cookies.clear()
    # When cat opens her creator page
    await log_in(client, "cat")
    page = await client.get("/money/creator", headers=HTML)
    # Then it says what the month would bring now (3.00 + 3.00 from dora, 4.00 from erin)
    text = _text(page)
    assert "you would receive 10.00 EUR from 2 supporters here (3 likes)" in text
    rows = re.findall(r'<tr class="thing-month">(.*?)</tr>', page.text, re.S)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    assert cells == [
        "My first song about the sea and the… 2 7.00 EUR",
        "A zine 1 3.00 EUR",
    ]


async def _account(app: Starlette, name: str) -> Account:
    async with context(app).db.session() as session:
        return (await session.exec(select(Account).where(Account.username == name))).one()


async def test_the_payout_form_waits_for_the_minimum_and_a_request_is_confirmed(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given cat with 4.00 EUR available (the minimum payout is 10.00 EUR)
    cat = await make_account(app, "cat")
    await _available(app, int(cat.id or 0), 400)
    await log_in(client, "cat")
    # Then her page says what is left to go, and has no payout form
    page = await client.get("/money/creator", headers=HTML)
    assert "6.00 EUR to go" in _text(page)
    assert "Request a payout</button>" not in page.text
    # When she has 12.00 EUR available and asks for 11.00 EUR
    await _available(app, int(cat.id or 0), 800)
    page = await client.get("/money/creator", headers=HTML)
    assert "to go" not in _text(page) and "Request a payout</button>" in page.text
    form_key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert form_key is not None
    asked = await client.post(
        "/money/payouts",
        data={
            "amount": "11.00",
            "iban": "DE89370400440532013000",
            "name": "Cat Doe",
            "bic": "",
            "form_key": form_key.group(1),
            "csrf_token": csrf_from(page.text),
        },
        headers=HTML,
    )
    # Then the page confirms it, lists it as requested today and says what that means
    assert asked.status_code == 303
    after = await client.get(asked.headers["location"], headers=HTML)
    text = _text(after)
    assert "Payout requested" in text
    today = utcnow().strftime("%Y-%m-%d")
    assert re.search(rf"11\.00 EUR Requested {today} not yet not yet", text)
    assert "Requested Waiting for an admin of this instance to approve it" in text
    assert "Paid The bank confirmed the transfer" in text
    # And with 1.00 EUR left, the form gives way to what is left to go
    assert "9.00 EUR to go" in text


async def test_supporters_on_peer_instances_are_counted(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given cat, whose supporters on beta.test were counted in two of beta's batches
    cat = await make_account(app, "cat")
    async with context(app).db.transaction() as session:
        peer = Peer(domain="beta.test", state=PeerState.active, currency="EUR", credit_limit=10_000)
        session.add(peer)
        await session.flush()
        for sequence, supporters in ((1, 2), (2, 3)):
            batch = Settlement(
                uri=f"https://beta.test/settlements/{sequence}",
                peer_id=peer.id or 0,
                direction=Direction.incoming,
                period=f"2026-0{sequence}",
                sequence=sequence,
                currency="EUR",
                total=500,
                state=SettlementState.accepted,
                document="{}",
                digest="0" * 64,
                answered_at=utcnow() - timedelta(days=3 - sequence),
            )
            session.add(batch)
            await session.flush()
            session.add(
                SettlementLineRow(
                    settlement_id=batch.id or 0,
                    position=0,
                    creator_uri="https://likewise.test/users/cat",
                    account_id=cat.id,
                    amount=500,
                    supporters=supporters,
                    state=LineState.accepted,
                )
            )
    await log_in(client, "cat")
    # When she opens her creator page
    text = _text(await client.get("/money/creator", headers=HTML))
    # Then beta's supporters are counted as its latest batch counted them (not added up)
    assert "0 supporters on Likewise so far, and 3 on other instances" in text
    assert "beta.test: 3 supporters" in text
