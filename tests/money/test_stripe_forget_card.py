"""Forgetting the automatic top-up's saved card, against the fake Stripe on loopback
(Stripe's documented PaymentMethod, tests/data/stripe/payment_method.json): "Forget this
card" detaches the payment method at Stripe, forgets it here and turns the top-up off, once
however often the form is sent; when Stripe cannot be reached nothing changes here."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.models.stripe_top_ups import StripeAutoTopUp
from server.money.funding import stripe_top_up as top_up
from server.money.funding.stripe_client import client_of
from server.money.funding.stripe_top_up import top_up_wallets
from server.settings import Settings
from tests.money.test_stripe_top_up import _db, _post_event, _rows, _with_card, stripe_table
from tests.support.accounts import csrf_from, log_in
from tests.support.fakes.server import serve
from tests.support.fakes.stripe import FakeStripe
from tests.support.instances import LiveInstance
from tests.support.ledger import assert_books_balance, donor

FORGOTTEN = "Your card is forgotten: Stripe no longer keeps it for this instance"


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


async def _forget(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/money/add")
    return await client.post(
        "/money/add/auto/card/forget", data={"csrf_token": csrf_from(page.text)}
    )


async def _setting(app: Starlette) -> StripeAutoTopUp:
    (row,) = await _rows(_db(app)[0], StripeAutoTopUp)
    assert isinstance(row, StripeAutoTopUp)
    return row


async def test_forgetting_the_card_detaches_it_and_turns_the_top_up_off(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    await _with_card(app, client, control, funds=0, months=2)
    method = (await _setting(app)).payment_method_id
    page = await client.get("/money/add")
    assert "Forget this card" in page.text and 'class="confirm forget-card"' in page.text
    # Ann forgets her card, then sends the form again (a reload of the POST)
    for _ in range(2):
        forgot = await _forget(client)
        assert forgot.status_code == 303
        assert forgot.headers["location"] == "/money/add?card=forgotten#auto-top-up"
    # Then Stripe detached it once, and it is gone here with the top-up off
    assert fake.detached == [method]
    row = await _setting(app)
    assert (row.payment_method_id, row.saved_at, row.months) == (None, None, 0)
    shown = await client.get("/money/add", params={"card": "forgotten"})
    assert FORGOTTEN in shown.text and "the automatic top-up is off" in shown.text
    assert "A card is saved" not in shown.text and "Forget this card" not in shown.text
    assert "Save a card for automatic top-ups" in shown.text
    # and housekeeping charges nothing
    assert await top_up_wallets(db, settings) is not None
    assert fake.intents_created == 0
    await assert_books_balance(db)


async def test_when_stripe_cannot_be_reached_nothing_is_forgotten(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    await _with_card(app, client, control, funds=0, months=2)
    method = (await _setting(app)).payment_method_id
    fake.knobs.fail_5xx = 10  # every try, retries included, answers 500
    refused = await _forget(client)
    assert refused.status_code == 502
    assert "Stripe could not be reached to forget the card" in refused.text
    assert "it is still saved" in refused.text and "A card is saved" in refused.text
    row = await _setting(app)
    assert (row.payment_method_id, row.months) == (method, 2)
    assert fake.detached == []
    # Stripe answers again: the card is forgotten
    fake.knobs.fail_5xx = 0
    assert (await _forget(client)).status_code == 303
    assert fake.detached == [method] and (await _setting(app)).payment_method_id is None


async def test_a_card_already_detached_at_stripe_is_forgotten_here(
    app: Starlette, client: httpx.AsyncClient, control: httpx.AsyncClient, fake: FakeStripe
) -> None:
    await _with_card(app, client, control, funds=0, months=3)
    method = str((await _setting(app)).payment_method_id)
    # An earlier try detached it, but its answer never came back
    fake.payment_methods[method]["customer"] = None
    assert (await _forget(client)).status_code == 303
    row = await _setting(app)
    assert (row.payment_method_id, row.months) == (None, 0)


async def test_forgetting_needs_a_login_and_the_form_token(
    app: Starlette, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    db, settings = _db(app)
    anonymous = await client.post("/money/add/auto/card/forget", data={})
    assert anonymous.status_code in (401, 403)
    await donor(db, settings, "ann", budget=500)
    await log_in(client, "ann")
    forged = await client.post("/money/add/auto/card/forget", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    # Without a saved card: nothing to forget, and the page says it is off
    assert (await _forget(client)).status_code == 303
    assert fake.detached == []


def test_a_donor_forgets_the_card_over_real_http(
    instances: Callable[..., LiveInstance], fake: FakeStripe
) -> None:
    instance = instances(autostart=False, args=["--no-worker"])
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
        back = browser.post(
            "/money/add/auto/card",
            data={"csrf_token": csrf_from(page.text)},
            follow_redirects=True,
        )
        assert "A card is saved for automatic top-ups" in back.text
        (method,) = fake.payment_methods
        forgot = browser.post(
            "/money/add/auto/card/forget",
            data={"csrf_token": csrf_from(back.text)},
            follow_redirects=True,
        )
        assert forgot.status_code == 200 and FORGOTTEN in forgot.text
        assert "A card is saved" not in forgot.text
        assert fake.detached == [method]
        again = browser.get(str(forgot.url))  # a reload of the page it landed on
        assert again.status_code == 200 and FORGOTTEN in again.text
        assert fake.detached == [method]


async def test_a_card_saved_while_the_old_one_is_forgotten_is_kept_and_the_donor_told(
    app: Starlette,
    client: httpx.AsyncClient,
    control: httpx.AsyncClient,
    fake: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Ann's saved card A, and a tab where she saves card B while A is being detached
    await _with_card(app, client, control, funds=0, months=2)
    first = (await _setting(app)).payment_method_id
    real = client_of

    def racing(config: Any) -> Any:
        stripe_client, http = real(config)
        detach = stripe_client.v1.payment_methods.detach_async

        async def detached_then_b_saved(method: str, *args: Any, **kwargs: Any) -> Any:
            done = await detach(method, *args, **kwargs)
            page = await client.get("/money/add")
            sent = await client.post(
                "/money/add/auto/card", data={"csrf_token": csrf_from(page.text)}
            )
            found = re.search(r"/pay/(cs_test_[0-9]+)$", sent.headers["location"])
            assert found is not None, sent.headers["location"]
            saved = await control.post(
                "setup", json={"session_id": found.group(1), "deliver": False}
            )
            assert (await _post_event(client, saved.json())).status_code == 200
            return done

        stripe_client.v1.payment_methods.detach_async = detached_then_b_saved  # type: ignore[method-assign]
        return stripe_client, http

    monkeypatch.setattr(top_up, "client_of", racing)
    # When she forgets A
    forgot = await _forget(client)
    # Then A is detached at Stripe, B is kept with the top-up as set, and she is told so
    assert forgot.status_code == 303
    assert forgot.headers["location"] == "/money/add?card=replaced#auto-top-up"
    row = await _setting(app)
    assert fake.detached == [first]
    assert row.payment_method_id not in (None, first)
    assert row.months == 2
    shown = await client.get(forgot.headers["location"])
    assert "The card you asked to forget is forgotten" in shown.text
    assert "that one is kept, and the automatic top-up goes on with it" in shown.text
    assert FORGOTTEN not in shown.text and "A card is saved" in shown.text
    # and forgetting again forgets B, as the page offers
    monkeypatch.setattr(top_up, "client_of", real)
    again = await _forget(client)
    assert again.headers["location"] == "/money/add?card=forgotten#auto-top-up"
    assert fake.detached == [first, row.payment_method_id]
    assert (await _setting(app)).payment_method_id is None
