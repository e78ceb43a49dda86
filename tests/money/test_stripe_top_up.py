"""The automatic monthly top-up, against the fake Stripe on loopback (Stripe's documented
objects, events signed by the library's scheme): the donor saves a card on Stripe's setup
page and keeps the wallet at N months of budget; housekeeping charges off-session once a
month, the signed webhook credits once; a declined card tells the donor and is not tried
again that month; a rerun or a lost answer never charges twice. Also a SEPA Direct Debit of
Checkout failing by payment_intent.payment_failed, and the books after every scenario."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.donations.housekeeping import run_housekeeping
from server.models import DonorSettings, LedgerKind
from server.models.stripe_payments import StripeCheckout, WalletNotice
from server.models.stripe_top_ups import StripeAutoTopUp
from server.money.funding.stripe_client import fee_for
from server.money.funding.stripe_top_up import in_window, top_up_wallets
from server.money.ledger import Owner
from server.settings import Settings
from tests.support.accounts import csrf_from, log_in
from tests.support.fakes.server import serve
from tests.support.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.support.instances import LiveInstance
from tests.support.ledger import assert_books_balance, balance, donor, wallet

FEES = Owner(LedgerKind.provider_fees, peer_domain="stripe")
BUDGET = 500  # 5.00 EUR a month


def stripe_table(base_url: str) -> dict[str, Any]:
    return {
        "secret_key": SECRET_KEY,
        "webhook_secret": WEBHOOK_SECRET,
        "payment_methods": ["card"],
        "fee_percent": "1.5",
        "fee_fixed": 25,
        "min_amount": 200,
        "max_amount": 50_000,
        "api_base": base_url,
        "top_up_days": 31,  # any day of the month is in the window
    }


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


def _db(app: Starlette) -> tuple[Database, Settings]:
    return context(app).db, context(app).settings


async def _post_event(client: httpx.AsyncClient, delivered: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/webhooks/stripe",
        content=delivered["body"].encode(),
        headers={"Stripe-Signature": delivered["signature"], "Content-Type": "application/json"},
    )


async def _signed(control: httpx.AsyncClient, fake: FakeStripe, kind: str) -> dict[str, Any]:
    """The newest event of `kind` the fake made, signed afresh (not delivered)."""
    (event_id, *_) = [key for key, event in reversed(fake.events.items()) if event["type"] == kind]
    answer = await control.post("deliver", json={"event_id": event_id})
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


async def _rows(db: Database, model: Any) -> list[Any]:
    async with db.session() as session:
        return list((await session.exec(select(model))).all())


async def _with_card(
    app: Starlette,
    client: httpx.AsyncClient,
    control: httpx.AsyncClient,
    *,
    funds: int,
    months: int,
) -> int:
    """Ann (budget 5.00, `funds` in her wallet) saves a card on Stripe's setup page and
    keeps her wallet at `months` months of budget; her account id."""
    db, settings = _db(app)
    ann = await donor(db, settings, "ann", funds=funds, budget=BUDGET)
    assert (await log_in(client, "ann")).status_code == 303
    page = await client.get("/money/add")
    assert "Save a card for automatic top-ups" in page.text
    sent = await client.post("/money/add/auto/card", data={"csrf_token": csrf_from(page.text)})
    assert sent.status_code == 303, sent.text[-2000:]
    found = re.search(r"/pay/(cs_test_[0-9]+)$", sent.headers["location"])
    assert found is not None, sent.headers["location"]
    saved = await control.post("setup", json={"session_id": found.group(1), "deliver": False})
    answer = await _post_event(client, saved.json())
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == f"saved a payment method for account {ann}"
    page = await client.get("/money/add")
    assert "A card is saved for automatic top-ups" in page.text
    chosen = await client.post(
        "/money/add/auto", data={"months": str(months), "csrf_token": csrf_from(page.text)}
    )
    assert chosen.status_code == 303, chosen.text[-2000:]
    return ann


async def test_a_saved_card_tops_the_wallet_up_once_and_the_webhook_credits_once(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    # Given Ann with 2.00 who keeps her wallet at 3 months of her 5.00 budget
    ann = await _with_card(app, client, control, funds=200, months=3)
    (customer,) = fake.customers.values()
    assert customer["metadata"] == {"donor_id": str(ann), "purpose": "auto_top_up"}
    assert "3 months of budget (15.00 EUR)" in (await client.get("/money/add")).text
    # When housekeeping runs
    report = await run_housekeeping(db, settings)
    assert not report.failed, report.failed
    # Then Stripe is asked once, off-session, for 15.00 - 2.00 = 13.00 plus the fee
    config = settings.stripe
    assert config is not None
    fee = fee_for(1300, config)
    assert fee == 25 + 20  # 1.5% of 13.00 is 19.5 cents: rounded up
    (intent,) = fake.intents.values()
    assert (intent["amount"], intent["currency"], intent["status"]) == (
        1300 + fee,
        "eur",
        "succeeded",
    )
    assert intent["customer"] == customer["id"] and intent["metadata"]["donor_id"] == str(ann)
    assert await balance(db, settings, wallet(ann)) == 200  # only the webhook credits
    # The signed webhook, delivered three times, credits once
    delivered = await _signed(control, fake, "payment_intent.succeeded")
    outcomes = []
    for _ in range(3):
        answer = await _post_event(client, delivered)
        assert answer.status_code == 200
        outcomes.append(answer.json()["outcome"])
        delivered = await _signed(control, fake, "payment_intent.succeeded")
    assert outcomes == [f"credited 13.00 EUR to account {ann}", *["already handled"] * 2]
    assert await balance(db, settings, wallet(ann)) == 1500
    assert await balance(db, settings, FEES) == fee
    # A second housekeeping run this month charges nothing
    await run_housekeeping(db, settings)
    assert fake.intents_created == 1
    (row,) = await _rows(db, StripeCheckout)
    assert row.form_key == f"top-up:{ann}:{datetime.now(UTC):%Y-%m}" and row.credited_at
    await assert_books_balance(db)


async def test_a_covered_paused_or_switched_off_wallet_is_not_charged(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann = await _with_card(app, client, control, funds=1000, months=2)
    # 2 months of 5.00 is what the wallet holds: nothing to charge
    await run_housekeeping(db, settings)
    assert fake.intents_created == 0 and await _rows(db, StripeCheckout) == []
    # A paused budget takes nothing at the close: nothing to top up either
    async with db.transaction() as session:
        donor_row = await session.get(DonorSettings, ann)
        assert donor_row is not None
        donor_row.paused, donor_row.monthly_budget = True, 2000
        session.add(donor_row)
    await run_housekeeping(db, settings)
    assert fake.intents_created == 0
    # Switched off
    page = await client.get("/money/add")
    off = await client.post(
        "/money/add/auto", data={"months": "0", "csrf_token": csrf_from(page.text)}
    )
    assert off.status_code == 303
    async with db.transaction() as session:
        donor_row = await session.get(DonorSettings, ann)
        assert donor_row is not None
        donor_row.paused = False
        session.add(donor_row)
    await run_housekeeping(db, settings)
    assert fake.intents_created == 0
    await assert_books_balance(db)


async def test_a_small_shortfall_is_raised_to_stripes_smallest_charge(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    await _with_card(app, client, control, funds=450, months=1)  # lacks 0.50, min is 2.00
    await run_housekeeping(db, settings)
    (row,) = await _rows(db, StripeCheckout)
    assert (row.amount, row.fee) == (200, 25 + 3)
    await assert_books_balance(db)


async def test_a_run_killed_before_stripe_made_the_charge_charges_on_the_next_run(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann = await _with_card(app, client, control, funds=0, months=1)
    # Given the row was written but Stripe never got the request (500 before it, twice)
    fake.knobs.fail_5xx = 2
    first = await run_housekeeping(db, settings)
    assert [failure.step for failure in first.failed] == ["top_up"]
    assert fake.intents_created == 0
    # When the next slot runs, the same row is sent (same key): one charge, then none
    for _ in range(2):
        assert not (await run_housekeeping(db, settings)).failed
    assert fake.intents_created == 1 and len(await _rows(db, StripeCheckout)) == 1
    delivered = await _signed(control, fake, "payment_intent.succeeded")
    assert (await _post_event(client, delivered)).status_code == 200
    assert await balance(db, settings, wallet(ann)) == 500
    await assert_books_balance(db)


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        ("card_declined", "the card was declined"),
        ("authentication_required", "your bank wants you to confirm the payment"),
    ],
)
async def test_a_failed_top_up_tells_the_donor_and_is_not_tried_again_that_month(
    app: Starlette,
    client: httpx.AsyncClient,
    control: httpx.AsyncClient,
    fake: FakeStripe,
    outcome: str,
    says: str,
) -> None:
    db, settings = _db(app)
    ann = await _with_card(app, client, control, funds=0, months=1)
    card = await control.post(
        "card", json={"customer": next(iter(fake.customers)), "outcome": outcome}
    )
    assert card.status_code == 200
    # When housekeeping charges and Stripe declines (402 card_error)
    report = await run_housekeeping(db, settings)
    assert not report.failed, report.failed
    assert fake.intents_created == 1
    (row,) = await _rows(db, StripeCheckout)
    assert row.payment_status == "failed" and row.credited_at is None and row.payment_intent
    # Then the donor reads why, once, though Stripe's event says it again
    failed = await _signed(control, fake, "payment_intent.payment_failed")
    answer = await _post_event(client, failed)
    assert answer.status_code == 200 and "failed before" in answer.json()["outcome"]
    (notice,) = await _rows(db, WalletNotice)
    assert notice.account_id == ann and says in notice.message
    page = await client.get("/money")
    assert "Your automatic top-up of 5.33 EUR did not go through" in page.text
    assert "not tried again this month" in page.text
    # and no second try this month, however often housekeeping runs
    for _ in range(2):
        await run_housekeeping(db, settings)
    assert fake.intents_created == 1 and len(await _rows(db, StripeCheckout)) == 1
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


async def test_duplicate_housekeeping_runs_and_a_lost_answer_charge_once(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann = await _with_card(app, client, control, funds=0, months=2)
    # Given Stripe makes the charge but its answer is lost twice (the run gives up unsure)
    fake.knobs.lose_answers = 2
    first = await run_housekeeping(db, settings)
    assert [failure.step for failure in first.failed] == ["top_up"]
    assert fake.intents_created == 1
    (row,) = await _rows(db, StripeCheckout)
    assert row.payment_status == "charging" and row.payment_intent is None
    # When two housekeeping runs go at once, then one more
    await asyncio.gather(run_housekeeping(db, settings), run_housekeeping(db, settings))
    await run_housekeeping(db, settings)
    # Then Stripe made one charge (the same idempotency key answered the first), stored once
    assert fake.intents_created == 1 and len(fake.intents) == 1
    (row,) = await _rows(db, StripeCheckout)
    (intent_id,) = fake.intents
    assert row.payment_intent == intent_id and row.payment_status == "succeeded"
    delivered = await _signed(control, fake, "payment_intent.succeeded")
    assert (await _post_event(client, delivered)).status_code == 200
    assert await balance(db, settings, wallet(ann)) == 1000
    await assert_books_balance(db)


async def test_the_webhook_credits_a_top_up_whose_answer_was_never_stored(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann = await _with_card(app, client, control, funds=0, months=1)
    fake.knobs.lose_answers = 2
    await run_housekeeping(db, settings)
    # The event names the row in its metadata: it is found and credited all the same
    delivered = await _signed(control, fake, "payment_intent.succeeded")
    answer = await _post_event(client, delivered)
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("credited 5.00")
    (row,) = await _rows(db, StripeCheckout)
    assert row.payment_intent == delivered["event"]["data"]["object"]["id"]
    # and the next run, sending the same key again, charges nothing more
    await run_housekeeping(db, settings)
    assert fake.intents_created == 1
    assert await balance(db, settings, wallet(ann)) == 500
    await assert_books_balance(db)


async def test_a_forged_setup_or_payment_event_changes_nothing(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann = await _with_card(app, client, control, funds=0, months=1)
    bob = await donor(db, settings, "bob")
    await run_housekeeping(db, settings)
    delivered = await _signed(control, fake, "payment_intent.succeeded")
    event = json.loads(delivered["body"])
    # Signed, but for another donor or amount than the payment was made for: 400
    changes: list[tuple[str, str, object]] = [
        ("metadata", "donor_id", str(bob)),
        ("object", "amount_received", 1),
    ]
    for number, (where, name, value) in enumerate(changes):
        forged = json.loads(json.dumps(event))
        forged["id"] = f"evt_test_forged_{number}"
        found = forged["data"]["object"]
        (found["metadata"] if where == "metadata" else found)[name] = value
        text = json.dumps(forged)
        sent = await _post_event(client, {"body": text, "signature": fake.sign(text)})
        assert sent.status_code == 400, sent.text
    saved = json.loads((await _signed(control, fake, "setup_intent.succeeded"))["body"])
    saved["id"] = "evt_test_forged_setup"
    saved["data"]["object"]["metadata"]["donor_id"] = str(bob)
    text = json.dumps(saved)
    refused = await _post_event(client, {"body": text, "signature": fake.sign(text)})
    assert refused.status_code == 400
    stale = await control.post(
        "deliver",
        json={"event_id": delivered["event"]["id"], "timestamp": int(time.time()) - 301},
    )
    assert (await _post_event(client, stale.json())).status_code == 400
    assert await balance(db, settings, wallet(ann)) == 0
    assert await balance(db, settings, wallet(bob)) == 0
    (setting,) = [row for row in await _rows(db, StripeAutoTopUp) if row.account_id == ann]
    assert setting.payment_method_id is not None
    await assert_books_balance(db)


async def test_months_out_of_range_or_without_a_card_are_refused(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    await donor(db, settings, "ann", budget=BUDGET)
    await log_in(client, "ann")
    page = await client.get("/money/add")
    for months in ("13", "-1", "two", "\u0663", ""):
        refused = await client.post(
            "/money/add/auto", data={"months": months, "csrf_token": csrf_from(page.text)}
        )
        assert refused.status_code == 422, (months, refused.status_code)
        assert "choose off or 1 to 12 months" in refused.text
    no_card = await client.post(
        "/money/add/auto", data={"months": "2", "csrf_token": csrf_from(page.text)}
    )
    assert no_card.status_code == 422 and "save a card first" in no_card.text
    assert all(row.months == 0 for row in await _rows(db, StripeAutoTopUp))
    await assert_books_balance(db)


def test_the_window_is_the_months_last_days(settings: Settings) -> None:
    config = settings.stripe
    assert config is not None
    short = dataclasses.replace(config, top_up_days=3)
    assert not in_window(datetime(2026, 12, 28, 23, 59, tzinfo=UTC), short)
    assert in_window(datetime(2026, 12, 29, 0, 0, tzinfo=UTC), short)
    assert in_window(datetime(2026, 2, 26, 0, 0, tzinfo=UTC), short)
    assert not in_window(datetime(2026, 2, 25, 23, 0, tzinfo=UTC), short)


async def test_outside_the_window_nothing_is_charged(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    await _with_card(app, client, control, funds=0, months=1)
    config = settings.stripe
    assert config is not None
    early = settings.replace(
        extra={**settings.extra, "stripe": {**stripe_table(fake.base_url), "top_up_days": 1}}
    )
    report = await top_up_wallets(db, early, now=datetime(2026, 12, 15, tzinfo=UTC))
    assert report.charged == 0 and fake.intents_created == 0
    report = await top_up_wallets(db, early, now=datetime(2026, 12, 31, 12, tzinfo=UTC))
    assert report.charged == 1 and fake.intents_created == 1
    (row,) = await _rows(db, StripeCheckout)
    assert row.form_key.endswith(":2026-12")
    await assert_books_balance(db)


async def test_a_sepa_debit_failing_by_payment_intent_event_tells_the_donor_once(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    ann = await donor(db, settings, "ann")
    await log_in(client, "ann")
    shown = await client.get("/money/add", params={"amount": "10.00"})
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', shown.text)
    assert key is not None
    form = {"amount": "10.00", "currency": "EUR", "form_key": key.group(1)}
    sent = await client.post(
        "/money/add/checkout", data={**form, "csrf_token": csrf_from(shown.text)}
    )
    session_id = sent.headers["location"].rsplit("/", 1)[1]
    # A payment refused while the donor is still on Stripe's page: they can try again there
    fake.sessions[session_id]["payment_intent"] = "pi_test_on_the_page"  # Checkout's intent
    early = await control.post("intent_failed", json={"session_id": session_id, "deliver": False})
    answer = await _post_event(client, early.json())
    assert answer.status_code == 200 and "can try again there" in answer.json()["outcome"]
    # The session completes unpaid (SEPA Direct Debit), then the debit fails
    unpaid = await control.post(
        "complete", json={"session_id": session_id, "payment_status": "unpaid", "deliver": False}
    )
    assert (await _post_event(client, unpaid.json())).status_code == 200
    failed = await control.post("intent_failed", json={"session_id": session_id, "deliver": False})
    answer = await _post_event(client, failed.json())
    assert answer.status_code == 200 and answer.json()["outcome"].endswith("the donor is told")
    also = await control.post("async", json={"session_id": session_id, "succeeded": False})
    answer = await _post_event(client, also.json())
    assert answer.status_code == 200 and "failed before" in answer.json()["outcome"]
    (notice,) = await _rows(db, WalletNotice)
    assert "Your payment of 10.40 EUR did not go through" in notice.message
    assert "the account has not enough money" in notice.message
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


def test_a_donor_is_topped_up_by_the_worker_over_real_http(
    instances: Callable[..., LiveInstance], fake: FakeStripe
) -> None:
    instance = instances(autostart=False, args=["--no-worker"])  # `worker --once` below
    instance.data_dir.mkdir(parents=True)
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in stripe_table(fake.base_url).items())
    (instance.data_dir / "config.toml").write_text(f"[stripe]\n{lines}\n")
    fake.knobs.webhook_url = f"{instance.base_url}/webhooks/stripe"
    instance.cli("users", "create", "ann", "--email", "a@example.org", "--password", "pw-correct")
    instance.start()
    with httpx.Client(base_url=instance.base_url, timeout=30) as browser:
        login = browser.get("/login")
        browser.post(
            "/login",
            data={"login": "ann", "password": "pw-correct", "csrf_token": csrf_from(login.text)},
        )
        page = browser.get("/money/add")
        # Stripe's setup page saves the card and tells the instance (signed), then sends back
        back = browser.post(
            "/money/add/auto/card",
            data={"csrf_token": csrf_from(page.text)},
            follow_redirects=True,
        )
        assert back.status_code == 200 and "A card is saved for automatic top-ups" in back.text
        chosen = browser.post(
            "/money/add/auto", data={"months": "2", "csrf_token": csrf_from(back.text)}
        )
        assert chosen.status_code == 303
        # The worker's housekeeping charges; Stripe's signed event credits
        instance.cli("worker", "--once")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "payment_intent.succeeded" not in {
            fake.events[event_id]["type"] for event_id, status in fake.deliveries if status == 200
        }:
            time.sleep(0.1)
        assert fake.intents_created == 1
        assert 'class="wallet">10.00 EUR<' in browser.get("/money").text
        instance.cli("worker", "--once")
        assert fake.intents_created == 1
    assert "ledger OK" in instance.cli("ledger", "check").stdout
