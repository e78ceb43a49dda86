"""Card payments through Stripe Checkout, against a fake Stripe on loopback (documented
objects from tests/data/stripe/, events signed with Stripe's scheme by the library): the
donor sees the fee before paying; only the signed webhook credits, once per payment however
often it comes; bad deliveries are 400 and book nothing; refunds and disputes take the
money back, what was spent becoming the instance's loss. The books balance throughout."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.donations.close import close_period
from server.models import DonorSettings, LedgerKind
from server.models.stripe_payments import StripeCheckout, StripeEvent, WalletNotice
from server.money.funding.stripe import fee_for, quote
from server.money.ledger import Owner
from server.settings import ConfigError, Settings, load_settings
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.fakes.server import serve
from tests.support.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.support.instances import LiveInstance
from tests.support.ledger import assert_books_balance, balance, like, wallet, web_thing

FORM_KEY = re.compile(r'name="form_key" value="([0-9a-f]{32})"')
FEES = Owner(LedgerKind.provider_fees, peer_domain="stripe")
LOSS = Owner(LedgerKind.instance_loss)


def stripe_table(base_url: str) -> dict[str, Any]:
    return {
        "secret_key": SECRET_KEY,
        "webhook_secret": WEBHOOK_SECRET,
        "publishable_key": "pk_test_likewise",
        "payment_methods": ["card", "sepa_debit"],
        "fee_percent": "1.5",
        "fee_fixed": 25,
        "min_amount": 200,
        "max_amount": 50_000,
        "api_base": base_url,
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


async def _pay_form(
    client: httpx.AsyncClient, amount: str
) -> tuple[httpx.Response, dict[str, str]]:
    shown = await client.get("/money/add", params={"amount": amount})
    found = FORM_KEY.search(shown.text)
    form = {
        "amount": amount,
        "currency": "EUR",
        "form_key": found.group(1) if found else "",
        "csrf_token": csrf_from(shown.text),
    }
    return shown, form


async def _checkout(app: Starlette, client: httpx.AsyncClient, amount: str = "10.00") -> str:
    """A donor logged in, sent to Stripe's page; the session id."""
    await make_account(app, "ann")
    assert (await log_in(client, "ann")).status_code == 303
    _, form = await _pay_form(client, amount)
    sent = await client.post("/money/add/checkout", data=form)
    assert sent.status_code == 303, sent.text
    found = re.search(r"/pay/(cs_test_[0-9]+)$", sent.headers["location"])
    assert found is not None, sent.headers["location"]
    return found.group(1)


async def _post_event(
    client: httpx.AsyncClient, body: str | bytes, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    content = body.encode() if isinstance(body, str) else body
    return await client.post("/webhooks/stripe", content=content, headers=headers)


async def _complete(control: httpx.AsyncClient, session_id: str, **extra: Any) -> dict[str, Any]:
    answer = await control.post(
        "complete", json={"session_id": session_id, "deliver": False, **extra}
    )
    answer.raise_for_status()
    made: dict[str, Any] = answer.json()
    return made


async def _again(control: httpx.AsyncClient, event_id: str, **extra: Any) -> dict[str, Any]:
    answer = await control.post("deliver", json={"event_id": event_id, **extra})
    answer.raise_for_status()
    made: dict[str, Any] = answer.json()
    return made


async def _rows(db: Database, model: Any) -> list[Any]:
    async with db.session() as session:
        return list((await session.exec(select(model))).all())


def test_the_fee_is_fixed_plus_percent_rounded_up(settings: Settings) -> None:
    config = settings.stripe
    assert config is not None and (config.fee_bps, config.fee_fixed) == (150, 25)
    assert fee_for(1000, config) == 25 + 15  # 1.5% of 10.00 is exactly 0.15
    assert fee_for(1001, config) == 25 + 16  # 15.015 cents: rounded up
    assert fee_for(200, config) == 25 + 3
    shown = quote("10.00", settings)
    assert (shown.amount, shown.fee, shown.total) == (1000, 40, 1040)


async def test_the_add_money_page_shows_the_fee_before_paying(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "ann")
    await log_in(client, "ann")
    shown, form = await _pay_form(client, "10.01")
    assert shown.status_code == 200
    assert re.search(r'class="quote-fee">0\.41 EUR<', shown.text)
    assert re.search(r'class="quote-total">10\.42 EUR<', shown.text)
    assert "Pay 10.42 EUR with Stripe" in shown.text and form["form_key"]
    # The money page leads there
    assert 'href="/money/add"' in (await client.get("/money")).text


async def test_the_page_without_stripe_shows_the_other_ways_only(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    bank = {"name": "Likewise Test e.V.", "iban": "DE89370400440532013000"}
    plain = settings.replace(extra={"bank": bank})
    context(app).settings = plain
    await make_account(app, "ann")
    await log_in(client, "ann")
    page = await client.get("/money/add", params={"amount": "10.00"})
    assert page.status_code == 200
    assert "Stripe" not in page.text and "quote-fee" not in page.text
    assert "DE89 3704 0044 0532 0130 00" in page.text
    refused = await client.post(
        "/money/add/checkout",
        data={
            "amount": "10.00",
            "currency": "EUR",
            "form_key": "a" * 32,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert refused.status_code == 404
    assert (await client.post("/webhooks/stripe", content=b"{}")).status_code == 404


async def test_a_completed_checkout_credits_once_however_often_it_is_told(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    # Given a donor sent to Stripe, twice by a double click
    await make_account(app, "ann")
    await log_in(client, "ann")
    _, form = await _pay_form(client, "10.00")
    first = await client.post("/money/add/checkout", data=form)
    second = await client.post("/money/add/checkout", data=form)
    assert first.status_code == second.status_code == 303, first.text[-3000:]
    assert first.headers["location"] == second.headers["location"]
    assert fake.created == 1  # one session for the form
    session_id = first.headers["location"].rsplit("/", 1)[1]
    made = fake.sessions[session_id]
    assert made["amount_total"] == 1040 and made["currency"] == "eur"
    assert made["payment_method_types"] == ["card", "sepa_debit"]
    ann = int(made["client_reference_id"])
    assert made["metadata"]["donor_id"] == str(ann) and made["metadata"]["fee"] == "40"
    # When Stripe's page is paid, the browser's return only shows it waits
    delivered = await _complete(control, session_id)
    back = await client.get("/money/add/done", params={"session_id": session_id})
    assert "Payment received, waiting for confirmation" in back.text
    assert await balance(db, settings, wallet(ann)) == 0
    # Then the signed webhook credits the amount and books the fee, once for three deliveries
    answer = await _post_event(client, delivered["body"], delivered["signature"])
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("credited 10.00")
    for _ in range(2):
        again = await _again(control, delivered["event"]["id"])
        repeat = await _post_event(client, again["body"], again["signature"])
        assert repeat.status_code == 200 and repeat.json()["outcome"] == "already handled"
    assert await balance(db, settings, wallet(ann)) == 1000
    assert await balance(db, settings, FEES) == 40
    # and an event of its own for the same payment credits nothing more
    succeeded = await control.post("async", json={"session_id": session_id, "succeeded": True})
    other = await _post_event(client, succeeded.json()["body"], succeeded.json()["signature"])
    assert other.status_code == 200 and other.json()["outcome"] == "credited before"
    assert await balance(db, settings, wallet(ann)) == 1000
    shown = await client.get("/money/add/done", params={"session_id": session_id})
    assert "10.00 EUR is in your wallet" in shown.text
    assert len(await _rows(db, StripeEvent)) == 2
    await assert_books_balance(db)


async def test_deliveries_at_the_same_moment_credit_once(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    session_id = await _checkout(app, client)
    delivered = await _complete(control, session_id)
    twice = [await _again(control, delivered["event"]["id"]) for _ in range(3)]
    answers = await asyncio.gather(
        *(_post_event(client, sent["body"], sent["signature"]) for sent in [delivered, *twice])
    )
    assert [answer.status_code for answer in answers] == [200] * 4
    outcomes = sorted(answer.json()["outcome"] for answer in answers)
    assert outcomes[:3] == ["already handled"] * 3 and outcomes[3].startswith("credited")
    (row,) = await _rows(db, StripeCheckout)
    assert await balance(db, settings, wallet(row.donor_id)) == 1000
    assert await balance(db, settings, FEES) == 40
    await assert_books_balance(db)


async def test_a_sepa_debit_credits_when_it_settles_not_when_the_session_completes(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    session_id = await _checkout(app, client)
    ann = int((await _rows(db, StripeCheckout))[0].donor_id)
    unpaid = await _complete(control, session_id, payment_status="unpaid")
    answer = await _post_event(client, unpaid["body"], unpaid["signature"])
    assert answer.status_code == 200 and "waiting for the payment" in answer.json()["outcome"]
    assert await balance(db, settings, wallet(ann)) == 0
    settled = (await control.post("async", json={"session_id": session_id})).json()
    assert (await _post_event(client, settled["body"], settled["signature"])).status_code == 200
    assert await balance(db, settings, wallet(ann)) == 1000
    await assert_books_balance(db)


async def test_a_failed_sepa_debit_credits_nothing_and_tells_the_donor(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    session_id = await _checkout(app, client)
    unpaid = await _complete(control, session_id, payment_status="unpaid")
    assert (await _post_event(client, unpaid["body"], unpaid["signature"])).status_code == 200
    failed = await control.post("async", json={"session_id": session_id, "succeeded": False})
    sent = await _post_event(client, failed.json()["body"], failed.json()["signature"])
    assert sent.status_code == 200 and sent.json()["outcome"].endswith("failed")
    (row,) = await _rows(db, StripeCheckout)
    assert row.credited_at is None and row.payment_status == "failed"
    assert await balance(db, settings, wallet(row.donor_id)) == 0
    assert "did not go through" in (await client.get("/money")).text
    await assert_books_balance(db)


async def test_unsigned_forged_stale_or_malformed_deliveries_are_refused(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    session_id = await _checkout(app, client)
    delivered = await _complete(control, session_id)
    body, event_id = delivered["body"], delivered["event"]["id"]
    forged = (await _again(control, event_id, secret="whsec_someone_else"))["signature"]
    stale = (await _again(control, event_id, timestamp=int(time.time()) - 301))["signature"]
    broken = "{" + body  # signed as it is, but no JSON
    cases = [
        (body, None),
        (body, ""),
        (body, forged),
        (body, stale),
        (body, "t=oops,v1=beef"),
        (body.replace('"amount_total": 1040', '"amount_total": 1'), delivered["signature"]),
        (broken, fake.sign(broken)),
        (b"\xff\xfe" + body.encode(), fake.sign(body)),
        ("[]", fake.sign("[]")),
    ]
    for sent, signature in cases:
        answer = await _post_event(client, sent, signature)
        assert answer.status_code == 400, (signature, answer.text)
        assert answer.json()["code"] == "webhook_refused"
    # A signed event whose session differs from what the donor was shown books nothing
    changed = json.loads(body)
    changed["data"]["object"]["amount_total"] = 999_999
    changed["data"]["object"]["currency"] = "usd"
    text = json.dumps(changed)
    assert (await _post_event(client, text, fake.sign(text))).status_code == 400
    assert await _rows(db, StripeEvent) == []
    assert await balance(db, settings, wallet(1)) == 0
    assert await balance(db, settings, FEES) == 0
    # The genuine delivery still credits
    assert (await _post_event(client, body, delivered["signature"])).status_code == 200
    await assert_books_balance(db)


@pytest.mark.parametrize(
    ("amount", "currency", "says"),
    [
        ("1.99", "EUR", "from 2.00 EUR to 500.00 EUR"),
        ("500.01", "EUR", "from 2.00 EUR to 500.00 EUR"),
        ("\u0661\u0660.\u0660\u0660", "EUR", ""),  # Arabic-Indic digits
        ("10.00", "USD", "EUR only"),
        ("-5", "EUR", ""),
        ("10.001", "EUR", "decimal places"),
    ],
)
async def test_a_refused_amount_creates_nothing(
    app: Starlette,
    client: httpx.AsyncClient,
    fake: FakeStripe,
    amount: str,
    currency: str,
    says: str,
) -> None:
    db, _ = _db(app)
    await make_account(app, "ann")
    await log_in(client, "ann")
    _, form = await _pay_form(client, "10.00")
    refused = await client.post(
        "/money/add/checkout", data={**form, "amount": amount, "currency": currency}
    )
    assert refused.status_code == 422, refused.text
    assert says in refused.text and f'value="{amount}"' in refused.text
    assert fake.created == 0 and await _rows(db, StripeCheckout) == []
    previewed = await client.get("/money/add", params={"amount": amount})
    assert previewed.status_code == (200 if currency != "EUR" else 422)


async def _paid(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> tuple[int, str]:
    session_id = await _checkout(app, client)
    delivered = await _complete(control, session_id)
    assert (await _post_event(client, delivered["body"], delivered["signature"])).status_code == 200
    row = (await _rows(_db(app)[0], StripeCheckout))[0]
    return int(row.donor_id), str(row.payment_intent)


async def test_a_refund_of_unspent_money_leaves_the_wallet(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, intent = await _paid(app, client, control)
    # A partial refund takes 4.00 back from the wallet
    part = (await control.post("refund", json={"payment_intent": intent, "amount": 400})).json()
    assert (await _post_event(client, part["body"], part["signature"])).status_code == 200
    assert await balance(db, settings, wallet(ann)) == 600
    # The rest (6.00 and the 0.40 fee Stripe kept): the wallet's 6.00, the fee a loss
    rest = (await control.post("refund", json={"payment_intent": intent})).json()
    assert (await _post_event(client, rest["body"], rest["signature"])).status_code == 200
    repeat = await _again(control, rest["event"]["id"])
    assert (await _post_event(client, repeat["body"], repeat["signature"])).status_code == 200
    assert await balance(db, settings, wallet(ann)) == 0
    assert await balance(db, settings, LOSS) == -40
    async with db.session() as session:
        donor = await session.get(DonorSettings, ann)
    assert donor is None or not donor.paused  # nothing was spent: the budget runs on
    notices = await client.get("/money")
    assert "4.00 EUR left your wallet" in notices.text
    await assert_books_balance(db)


async def test_a_dispute_of_spent_money_is_a_loss_and_pauses_the_budget(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    ann, intent = await _paid(app, client, control)
    # Given the donor spent 8.00 of the 10.00 in October's close
    async with db.transaction() as session:
        session.add(DonorSettings(account_id=ann, monthly_budget=800))
    from datetime import UTC, datetime

    await like(
        db, settings, ann, web_thing("https://blog.example/a"), at=datetime(2026, 10, 3, tzinfo=UTC)
    )
    await close_period(db, settings, "2026-10")
    assert await balance(db, settings, wallet(ann)) == 200
    # When the whole payment is disputed (twice told)
    disputed = (await control.post("dispute", json={"payment_intent": intent})).json()
    for _ in range(2):
        answer = await _post_event(client, disputed["body"], disputed["signature"])
        assert answer.status_code == 200
        disputed = await _again(control, disputed["event"]["id"])
    # Then the wallet gives what it has; the spent 8.00 and the fee are the instance's loss,
    # and so is Stripe's 15.00 dispute fee (paid to Stripe's fee account once, not by the donor)
    assert await balance(db, settings, wallet(ann)) == 0
    assert await balance(db, settings, LOSS) == -(800 + 40 + 1500)
    assert await balance(db, settings, FEES) == 40 + 1500
    async with db.session() as session:
        donor = await session.get(DonorSettings, ann)
    assert donor is not None and donor.paused
    page = await client.get("/money")
    assert (
        "monthly budget is paused" in page.text and "8.00 EUR of it was already given" in page.text
    )
    # The donor dismisses the notice
    notice = (await _rows(db, WalletNotice))[0]
    dismissed = await client.post(
        "/money/notices/dismiss",
        data={"notice_id": str(notice.id), "csrf_token": csrf_from(page.text)},
    )
    assert dismissed.status_code == 303
    assert "monthly budget is paused" not in (await client.get("/money")).text
    await assert_books_balance(db)


async def test_a_refund_before_the_credit_waits_for_it(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    db, settings = _db(app)
    session_id = await _checkout(app, client)
    completed = await _complete(control, session_id)
    intent = completed["event"]["data"]["object"]["payment_intent"]
    refund = (await control.post("refund", json={"payment_intent": intent})).json()
    early = await _post_event(client, refund["body"], refund["signature"])
    assert early.status_code == 503  # Stripe delivers it again later
    assert (await _post_event(client, completed["body"], completed["signature"])).status_code == 200
    later = await _again(control, refund["event"]["id"])
    assert (await _post_event(client, later["body"], later["signature"])).status_code == 200
    ann = int((await _rows(db, StripeCheckout))[0].donor_id)
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


def test_the_stripe_table_is_checked(tmp_path: Path) -> None:
    def config(text: str) -> None:
        (tmp_path / "config.toml").write_text(text)

    config('[stripe]\nsecret_key = "sk_test_1"\n')
    with pytest.raises(ConfigError, match="webhook_secret"):
        load_settings(tmp_path, environ={})
    config('[stripe]\nsecret_key = "sk_1"\nwebhook_secret = "whsec_1"\nfee_percent = "1.555"\n')
    with pytest.raises(ConfigError, match="fee_percent"):
        load_settings(tmp_path, environ={})
    config('[stripe]\nsecret_key = "sk_1"\nwebhook_secret = "whsec_1"\ncolour = "red"\n')
    with pytest.raises(ConfigError, match="colour is unknown"):
        load_settings(tmp_path, environ={})
    config('[stripe]\nsecret_key = "sk_1"\nwebhook_secret = "whsec_1"\n')
    with (tmp_path / "config.toml").open("a") as more:
        more.write("fee_percent = 2.9\nfee_fixed = 30\n")
    loaded = load_settings(tmp_path, environ={}).stripe
    assert loaded is not None and (loaded.fee_bps, loaded.fee_fixed) == (290, 30)
    assert loaded.payment_methods == ("card",)
    config('[stripe]\npublishable_key = "pk_1"\n')
    with pytest.raises(ConfigError, match="secret_key"):
        load_settings(tmp_path, environ={})


def test_a_donor_pays_through_stripe_over_real_http(
    instances: Callable[..., LiveInstance], fake: FakeStripe
) -> None:
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    table = stripe_table(fake.base_url)
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in table.items())
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
        shown = browser.get("/money/add", params={"amount": "25.00"})
        assert 'quote-total">25.63 EUR<' in shown.text  # 0.25 + 1.5% of 25.00 (0.375 → 0.38)
        key = FORM_KEY.search(shown.text)
        assert key is not None
        form = {
            "amount": "25.00",
            "currency": "EUR",
            "form_key": key.group(1),
            "csrf_token": csrf_from(shown.text),
        }
        # Stripe's page pays, delivers the signed event to the instance, and sends the donor back
        paid = browser.post("/money/add/checkout", data=form, follow_redirects=True)
        assert paid.status_code == 200 and str(paid.url).startswith(
            f"{instance.base_url}/money/add/done"
        )
        assert "25.00 EUR is in your wallet" in paid.text
        assert [status for _, status in fake.deliveries] == [200]
        assert 'class="wallet">25.00 EUR<' in browser.get("/money").text
    assert "ledger OK" in instance.cli("ledger", "check").stdout
