"""A dispute decided after it was opened, against the fake Stripe on loopback with signed
events (tests/data/stripe/): won (`charge.dispute.funds_reinstated`, or
`charge.dispute.closed` with status won), what the dispute took comes back once however
often and in whichever order it is told, with the dispute fee Stripe returned, and the
budget the dispute paused runs again; lost, nothing more moves. The books balance."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from server.donations.admin_accounts import account_history
from server.donations.budget import update_donor_settings
from server.donations.close import close_period
from server.models import Account, DonorSettings, Transfer
from server.models.base import utcnow
from server.models.stripe_payments import StripeCheckout, WalletNotice
from server.money.funding import stripe
from server.money.funding import stripe_books as books
from server.money.funding.stripe_client import minor_of, text_of
from server.settings import Settings
from tests.money.test_stripe import (
    FEES,
    LOSS,
    _again,
    _checkout,
    _complete,
    _db,
    _paid,
    _post_event,
    _rows,
    stripe_table,
)
from tests.support.fakes.server import serve
from tests.support.fakes.stripe import FakeStripe
from tests.support.ledger import assert_books_balance, balance, like, wallet, web_thing
from tests.support.payloads import load_json


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    stripe = FakeStripe()
    with serve(stripe):
        yield stripe


@pytest.fixture
def settings(settings: Settings, fake: FakeStripe) -> Settings:
    return settings.replace(extra={**settings.extra, "stripe": stripe_table(fake.base_url)})


@pytest.fixture
async def control(fake: FakeStripe) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{fake.base_url}/_test/", timeout=30) as client:
        yield client


async def _told(client: httpx.AsyncClient, delivered: dict[str, Any]) -> dict[str, Any]:
    answer = await _post_event(client, delivered["body"], delivered["signature"])
    assert answer.status_code == 200, answer.text
    told: dict[str, Any] = answer.json()
    return told


async def _won_then_closed(
    client: httpx.AsyncClient, control: httpx.AsyncClient, dispute: str, told: int
) -> str:
    """Stripe says the dispute's funds are back, `told` times, then that it closed, won,
    twice: only the first is handled; the first's outcome."""
    won = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    outcome = str((await _told(client, won))["outcome"])
    for _ in range(told - 1):
        won = await _again(control, won["event"]["id"])
        assert (await _told(client, won))["outcome"] == "already handled"
    closed = (
        await control.post("dispute_won", json={"dispute_id": dispute, "event": "closed"})
    ).json()
    assert "given back before" in (await _told(client, closed))["outcome"]
    closed = await _again(control, closed["event"]["id"])
    assert (await _told(client, closed))["outcome"] == "already handled"
    return outcome


async def _spent(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> tuple[int, str]:
    """Ann paid 10.00 (10.40 with the fee) and 8.00 of it went to creators in October's
    close. (Ann, the payment intent.)"""
    db, settings = _db(app)
    ann, intent = await _paid(app, client, control)
    async with db.transaction() as session:
        session.add(DonorSettings(account_id=ann, monthly_budget=800))
    at = datetime(2026, 10, 3, tzinfo=UTC)
    await like(db, settings, ann, web_thing("https://blog.example/a"), at=at)
    await close_period(db, settings, "2026-10")
    return ann, intent


async def _spent_and_disputed(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> tuple[int, str]:
    """Ann paid 10.00 (10.40 with the fee), 8.00 of it went to creators in October's close,
    and the whole payment is disputed: her 2.00 leaves the wallet, 8.40 and Stripe's 15.00
    fee are the instance's loss, and her budget pauses. (Ann, the dispute's id.)"""
    db, settings = _db(app)
    ann, intent = await _spent(app, client, control)
    disputed = (await control.post("dispute", json={"payment_intent": intent})).json()
    await _told(client, disputed)
    assert await balance(db, settings, wallet(ann)) == 0
    assert await balance(db, settings, LOSS) == -(840 + 1500)
    assert await _paused(app, ann)
    return ann, str(disputed["event"]["data"]["object"]["id"])


async def db_username(app: Starlette, account_id: int) -> str:
    async with _db(app)[0].session() as session:
        account = await session.get(Account, account_id)
    assert account is not None
    return account.username


async def _paused(app: Starlette, donor_id: int) -> bool:
    async with _db(app)[0].session() as session:
        donor = await session.get(DonorSettings, donor_id)
    return donor is not None and donor.paused


async def test_a_won_dispute_gives_back_the_wallet_the_loss_and_the_fee_once(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, dispute = await _spent_and_disputed(app, client, control)
    transfers = len(await _rows(db, Transfer))
    # When Stripe says the funds are back, three times, and then that the dispute closed,
    # won (twice)
    told = await _won_then_closed(client, control, dispute, told=3)
    assert "won: 200 to the wallet, 840 and fee 1500" in told
    # Then the wallet has its 2.00 again, the loss is undone with the fee Stripe returned,
    # and it was booked once: three transfers
    assert await balance(db, settings, wallet(ann)) == 200
    assert await balance(db, settings, LOSS) == 0
    assert await balance(db, settings, FEES) == 40
    assert len(await _rows(db, Transfer)) == transfers + 3
    assert (await _rows(db, StripeCheckout))[0].taken_back == 0
    # The budget the dispute paused runs again, and Ann is told once
    assert not await _paused(app, ann)
    page = await client.get("/money")
    told = "was decided in your favour: 2.00 EUR is back in your wallet"
    assert page.text.count(told) == 1 and "Your monthly budget runs again." in page.text
    assert "Dispute decided in your favour: the payment came back" in page.text
    assert "Dispute: a payment taken back" in page.text
    # The admin's page of Ann's wallet tells the money back from the dispute that took it
    ann_name = (await db_username(app, ann))
    lines = (await account_history(db, settings, ann_name)).lines
    assert [(line.what, line.amount) for line in lines if line.kind == "reversal"] == [
        ("dispute won: money back", 200),
        ("refund or dispute", -200),
    ]
    await assert_books_balance(db)


async def test_a_won_dispute_told_by_its_close_first_books_once(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    fake.knobs.dispute_fee_returned = False
    ann, dispute = await _spent_and_disputed(app, client, control)
    closed = (
        await control.post("dispute_won", json={"dispute_id": dispute, "event": "closed"})
    ).json()
    assert "won: 200 to the wallet, 840 and fee 0" in (await _told(client, closed))["outcome"]
    back = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    assert "given back before" in (await _told(client, back))["outcome"]
    # Stripe kept its fee this time: the fee stays the instance's loss
    assert await balance(db, settings, wallet(ann)) == 200
    assert await balance(db, settings, LOSS) == -1500
    assert await balance(db, settings, FEES) == 40 + 1500
    await assert_books_balance(db)


async def test_a_lost_dispute_moves_nothing_more(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, dispute = await _spent_and_disputed(app, client, control)
    lost = (await control.post("dispute_lost", json={"dispute_id": dispute})).json()
    assert "lost" in (await _told(client, lost))["outcome"]
    assert await balance(db, settings, wallet(ann)) == 0
    assert await balance(db, settings, LOSS) == -(840 + 1500)
    assert await _paused(app, ann)
    await assert_books_balance(db)


async def test_a_pause_changed_since_the_dispute_stays(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, dispute = await _spent_and_disputed(app, client, control)
    # The donor saves her budget again after the dispute (still paused): her own pause now
    async with db.transaction() as session:
        await update_donor_settings(session, settings, ann, monthly_budget=500, paused=True)
    won = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    await _told(client, won)
    assert await balance(db, settings, wallet(ann)) == 200
    assert await _paused(app, ann)
    page = await client.get("/money")
    assert "2.00 EUR is back in your wallet" in page.text
    assert "budget runs again" not in page.text
    await assert_books_balance(db)


async def test_a_dispute_won_before_it_was_told_takes_nothing(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, intent = await _paid(app, client, control)
    disputed = (await control.post("dispute", json={"payment_intent": intent})).json()
    dispute = disputed["event"]["data"]["object"]["id"]
    won = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    # The win comes first (events come out of order), then the dispute's opening
    assert "won before it was booked" in (await _told(client, won))["outcome"]
    assert "won before it was told" in (await _told(client, disputed))["outcome"]
    assert await balance(db, settings, wallet(ann)) == 1000
    assert await balance(db, settings, LOSS) == 0
    assert await balance(db, settings, FEES) == 40
    assert not await _paused(app, ann)
    await assert_books_balance(db)


async def test_a_won_dispute_of_an_unknown_payment_is_acknowledged_and_books_nothing(
    app: Starlette, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, _ = _db(app)
    before = len(await _rows(db, Transfer))
    event: dict[str, Any] = copy.deepcopy(load_json("stripe/event.json"))
    dispute = copy.deepcopy(load_json("stripe/dispute.json"))
    dispute.update(status="won", payment_intent="pi_not_of_this_instance")
    event.update(id="evt_unknown_dispute_won", type="charge.dispute.funds_reinstated")
    event["data"] = {"object": dispute}
    body = json.dumps(event)
    told = await _told(client, {"body": body, "signature": fake.sign(body)})
    assert "not about a payment of this instance" in told["outcome"]
    assert len(await _rows(db, Transfer)) == before
    assert await _rows(db, WalletNotice) == []


async def test_a_won_dispute_in_another_currency_is_refused(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann, dispute = await _spent_and_disputed(app, client, control)
    won = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    event = copy.deepcopy(won["event"])
    event.update(id="evt_other_currency")
    event["data"]["object"]["currency"] = "usd"
    body = json.dumps(event)
    answer = await _post_event(client, body, fake.sign(body))
    assert answer.status_code == 400 and "usd" in answer.text
    assert await balance(db, settings, wallet(ann)) == 0
    # The event in the payment's currency still books it
    assert "won:" in (await _told(client, won))["outcome"]
    assert await balance(db, settings, wallet(ann)) == 200
    await assert_books_balance(db)


async def test_a_won_dispute_before_the_credit_takes_nothing_later(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    session_id = await _checkout(app, client)
    completed = await _complete(control, session_id)
    intent = completed["event"]["data"]["object"]["payment_intent"]
    disputed = (await control.post("dispute", json={"payment_intent": intent})).json()
    dispute = disputed["event"]["data"]["object"]["id"]
    won = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    # The win comes before the payment is known here: acknowledged, nothing booked
    assert "nothing booked" in (await _told(client, won))["outcome"]
    await _told(client, completed)
    assert "won before it was told" in (await _told(client, disputed))["outcome"]
    ann = int((await _rows(db, StripeCheckout))[0].donor_id)
    assert await balance(db, settings, wallet(ann)) == 1000
    assert await balance(db, settings, LOSS) == 0
    await assert_books_balance(db)


async def test_a_won_dispute_of_a_top_up_not_credited_yet_waits_for_it(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, intent = await _paid(app, client, control)
    disputed = (await control.post("dispute", json={"payment_intent": intent})).json()
    await _told(client, disputed)
    # As if the payment were still on its way (a top-up whose intent is known, not credited)
    async with db.transaction() as session:
        row = (await session.exec(select(StripeCheckout))).one()
        held = (row.credited_at, row.transfer_id)
        row.credited_at = row.transfer_id = None
        session.add(row)
    dispute = disputed["event"]["data"]["object"]["id"]
    won = (await control.post("dispute_won", json={"dispute_id": dispute})).json()
    early = await _post_event(client, won["body"], won["signature"])
    assert early.status_code == 503  # Stripe delivers it again later
    async with db.transaction() as session:
        row = (await session.exec(select(StripeCheckout))).one()
        row.credited_at, row.transfer_id = held
        session.add(row)
    await _told(client, await _again(control, won["event"]["id"]))
    assert await balance(db, settings, wallet(ann)) == 1000
    assert await balance(db, settings, LOSS) == 0
    await assert_books_balance(db)


async def _disputed_before_8a3b529(
    session: AsyncSession, settings: Settings, event_id: str, found: dict[str, Any]
) -> str:
    """`disputed` as it was before commit 8a3b529 (`git show 8a3b529^:server/money/funding/
    stripe_books.py`): the transfers keyed by the event (`reverse:stripe:<event id>`), and
    the pause stamped with the time of the booking, not of the loss's transfer."""
    dispute = text_of(found.get("id"), "dispute id")
    row = await books.paid_row(session, found)
    target = row.taken_back + minor_of(found.get("amount"), "amount")
    done = await books.take_back(session, settings, row, event_id, target, f"dispute {dispute}")
    fee = await books.book_dispute_fee(session, settings, row, found)
    donor = await session.get(DonorSettings, row.donor_id)
    if donor is not None and donor.paused:
        donor.updated_at = utcnow()
        session.add(donor)
    return f"{done}; {fee}" if fee else done


async def test_a_dispute_booked_by_its_event_before_8a3b529_is_given_back_once(
    app: Starlette,
    client: httpx.AsyncClient,
    control: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, settings = _db(app)
    ann, intent = await _spent(app, client, control)
    # The dispute was booked by the code of before 8a3b529
    disputed = (await control.post("dispute", json={"payment_intent": intent})).json()
    with monkeypatch.context() as patch:
        patch.setitem(stripe.HANDLERS, "charge.dispute.created", _disputed_before_8a3b529)
        assert "200 from the wallet" in (await _told(client, disputed))["outcome"]
    event, dispute = disputed["event"]["id"], disputed["event"]["data"]["object"]["id"]
    keys = {row.idempotency_key for row in await _rows(db, Transfer)}
    assert {f"reverse:stripe:{event}", f"reverse-loss:stripe:{event}"} <= keys
    assert not any(key.startswith("reverse:stripe:dispute:") for key in keys)
    assert await balance(db, settings, LOSS) == -(840 + 1500)
    assert await _paused(app, ann)
    transfers = len(await _rows(db, Transfer))
    # It is won after: what it took comes back once, however often it is told
    told = await _won_then_closed(client, control, dispute, told=2)
    assert "won: 200 to the wallet, 840 and fee 1500" in told and "by its event" in told
    # The opening delivered again takes nothing more
    again = await _again(control, event)
    assert (await _told(client, again))["outcome"] == "already handled"
    assert await balance(db, settings, wallet(ann)) == 200
    assert await balance(db, settings, LOSS) == 0
    assert await balance(db, settings, FEES) == 40
    assert len(await _rows(db, Transfer)) == transfers + 3
    assert (await _rows(db, StripeCheckout))[0].taken_back == 0
    # The pause was stamped with the booking's time: nothing proves it is still the
    # dispute's, so it stays; Ann is told once that the money is back
    assert await _paused(app, ann)
    page = await client.get("/money")
    assert page.text.count("was decided in your favour: 2.00 EUR is back in your wallet") == 1
    assert "budget runs again" not in page.text
    await assert_books_balance(db)
