"""The settlement round from the admin's money page over HTTP against the app on the test
database: the month close, the SEPA export and a batch's confirmation are started by forms
and run by the worker once, however often a form is sent; payouts are named by handle."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlmodel import col, func, select
from starlette.applications import Starlette

from server.context import context
from server.donations.periods import period_of, previous_period
from server.models import Job, Payout, PayoutBatch, Period
from server.models.base import utcnow
from server.money.payouts import PayoutRequest, approve_payout, request_payout
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.ledger import available, balance, donor, like, wallet, web_thing

LAST_MONTH = previous_period(period_of(utcnow()))
IN_LAST_MONTH = datetime.strptime(LAST_MONTH + "-10", "%Y-%m-%d").replace(tzinfo=UTC)


async def _admin(app: Starlette, client: httpx.AsyncClient) -> str:
    await make_account(app, "root1", admin=True)
    assert (await log_in(client, "root1")).status_code == 303
    return csrf_from((await client.get("/admin/money")).text)


def _handles(html: str) -> list[str]:
    return re.findall(r'<tr class="account [a-z]+">\s*<td><a href="/admin/accounts/(\w+)"', html)


async def _jobs(app: Starlette) -> int:
    async with context(app).db.session() as session:
        return int((await session.exec(select(func.count()).select_from(Job))).one())


async def test_a_month_close_from_the_page_runs_once_and_shows_its_result(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann", funds=2000, budget=600)
    cat = await donor(db, settings, "cat")
    await like(db, settings, ann, web_thing("https://blog.example/a"), at=IN_LAST_MONTH)
    csrf = await _admin(app, client)
    jobs = await _jobs(app)
    form = {"action": "close", "period": LAST_MONTH, "form_key": "b" * 32, "csrf_token": csrf}
    # When the form is sent twice (a double click)
    first = await client.post("/admin/runs", data=form)
    second = await client.post("/admin/runs", data=form)
    # Then both land on the same run, and one job waits
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await _jobs(app) == jobs + 1
    waiting = await client.get(first.headers["location"])
    assert "Waiting for the worker" in waiting.text
    await context(app).worker.drain()
    run = await client.get(first.headers["location"])
    assert "Done." in run.text and f"{LAST_MONTH}: closed" in run.text
    assert "1 of 1" in run.text and "6.00 EUR" in run.text
    async with db.session() as session:
        stage = (await session.exec(select(Period.stage).where(Period.id == LAST_MONTH))).one()
    assert stage == "closed"
    assert await balance(db, settings, wallet(ann)) == 1400
    assert await balance(db, settings, available(cat)) == 0  # the like was for a web page
    # A running month is refused on the form, unless closed early on purpose
    running = {**form, "period": period_of(utcnow()), "form_key": "c" * 32}
    refused = await client.post("/admin/runs", data=running)
    assert refused.status_code == 422 and "still running" in refused.text
    stale = await client.post("/admin/runs", data={**form, "form_key": "nope"})
    assert stale.status_code == 422
    unknown = await client.post("/admin/runs", data={**form, "action": "wipe"})
    assert unknown.status_code == 404


async def _approved_payout(app: Starlette, name: str, amount: int) -> int:
    from server.models import LedgerKind, TransferKind
    from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer

    db, settings = context(app).db, context(app).settings
    creator = await donor(db, settings, name)
    async with db.transaction() as session:
        world = Owner(LedgerKind.outside_world)
        earned = Owner(LedgerKind.creator_available, account_id=creator)
        ids = await ledger_account_ids(session, settings, [world, earned])
        spec = TransferSpec(f"seed:{name}", ids[world], ids[earned], amount, TransferKind.funding)
        await post_transfer(session, spec)
        payout = await request_payout(
            session,
            settings,
            PayoutRequest(creator, amount, "DE89370400440532013000", f"{name.title()} Maker"),
        )
        await approve_payout(session, int(payout.id or 0))
    return int(payout.id or 0)


async def test_payouts_are_exported_and_confirmed_from_the_page_once(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given an approved payout of cat's
    payout_id = await _approved_payout(app, "cat", 2500)
    csrf = await _admin(app, client)
    money = await client.get("/admin/money")
    assert 'href="/admin/accounts/cat">@cat</a>' in money.text  # named by handle
    assert "Export 1 approved payout as a SEPA file" in money.text
    assert re.search(r"<summary>Reject<span class=\"visually-hidden\"> payout", money.text)
    # When the admin exports it, twice by accident
    form = {
        "action": "export",
        "form_key": "d" * 32,
        "debtor_name": "Likewise e.V.",
        "debtor_iban": "DE02120300000000202051",
        "debtor_bic": "BYLADEM1001",
        "csrf_token": csrf,
    }
    first = await client.post("/admin/runs", data=form)
    second = await client.post("/admin/runs", data=form)
    assert first.headers["location"] == second.headers["location"]
    await context(app).worker.drain()
    run = await client.get(first.headers["location"])
    assert "Done." in run.text and "1 payout, 25.00 EUR" in run.text
    # Then one batch holds it, and its file downloads
    async with context(app).db.session() as session:
        batches = (await session.exec(select(PayoutBatch))).all()
        payout = await session.get(Payout, payout_id)
    assert len(batches) == 1 and payout is not None and payout.state == "in_flight"
    batch_id = int(batches[0].id or 0)
    xml = await client.get(f"/admin/payouts/batches/{batch_id}/sepa.xml")
    assert xml.status_code == 200 and "<MsgId>" in xml.text and "Cat Maker" in xml.text
    assert (await client.get("/admin/payouts/batches/999/sepa.xml")).status_code == 404
    # And confirming it (behind its confirmation) books it paid, once
    money = await client.get("/admin/money")
    assert f"Confirm batch {batch_id} as paid" in money.text
    key = re.search(
        r'name="batch_id" value="\d+">\s*<input type="hidden" name="form_key" value="(\w+)"',
        money.text,
    )
    assert key is not None
    confirm = {
        "action": "confirm",
        "batch_id": str(batch_id),
        "form_key": key.group(1),
        "csrf_token": csrf,
    }
    done = await client.post("/admin/runs", data=confirm)
    await client.post("/admin/runs", data=confirm)
    await context(app).worker.drain()
    shown = await client.get(done.headers["location"])
    assert "Done." in shown.text and "confirmed" in shown.text
    async with context(app).db.session() as session:
        payout = await session.get(Payout, payout_id)
    assert payout is not None and payout.state == "paid"
    # Nothing is left to export: the form is gone, and a resent old form is refused
    assert "approved payout" not in (await client.get("/admin/money")).text
    again = await client.post("/admin/runs", data={**form, "form_key": "e" * 32})
    assert again.status_code == 404 and "no approved payouts" in again.text


async def test_a_wrong_paying_iban_is_shown_on_its_field(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _approved_payout(app, "cat", 2500)
    csrf = await _admin(app, client)
    form = {
        "action": "export",
        "form_key": "f" * 32,
        "debtor_name": "Likewise e.V.",
        "debtor_iban": "DE00 0000",
        "csrf_token": csrf,
    }
    refused = await client.post("/admin/runs", data=form)
    assert refused.status_code == 422
    assert 'id="debtor_iban-error"' in refused.text
    # Without the paying bank's BIC no valid SEPA file can be written: refused on its field
    no_bic = {**form, "debtor_iban": "DE02120300000000202051"}
    refused = await client.post("/admin/runs", data=no_bic)
    assert refused.status_code == 422
    assert 'id="debtor_bic-error"' in refused.text and "BIC" in refused.text


async def test_the_money_page_shows_the_instances_loss_and_its_lines(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    from server.models import LedgerKind, TransferKind
    from server.models.stripe_payments import StripeCheckout
    from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer

    # Given a refund of 7.50 that ann's wallet no longer held, booked to the loss account
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann")
    async with db.transaction() as session:
        session.add(
            StripeCheckout(
                form_key="k1",
                donor_id=ann,
                amount=750,
                fee=0,
                total=750,
                currency="EUR",
                payment_intent="pi_123",
            )
        )
        loss, world = Owner(LedgerKind.instance_loss), Owner(LedgerKind.outside_world)
        ids = await ledger_account_ids(session, settings, [loss, world])
        spec = TransferSpec(
            "reverse-loss:stripe:evt_1",
            ids[loss],
            ids[world],
            750,
            TransferKind.reversal_loss,
            reference="pi_123",
        )
        await post_transfer(session, spec)
    await _admin(app, client)
    # When the admin opens the money page
    page = await client.get("/admin/money")
    # Then the loss's total and its line, with the donor's handle, are shown
    assert re.search(r'class="loss-total">7.50 EUR<', page.text)
    line = re.search(r'<tr class="loss">(.*?)</tr>', page.text)
    assert line is not None
    assert "refund or dispute of spent money" in line.group(1)
    assert "@ann" in line.group(1) and "pi_123" in line.group(1) and "7.50 EUR" in line.group(1)


async def test_nothing_lost_says_so(app: Starlette, client: httpx.AsyncClient) -> None:
    await _admin(app, client)
    page = await client.get("/admin/money")
    assert 'class="loss-total">0.00 EUR<' in page.text and "Nothing lost." in page.text


async def test_an_export_run_again_after_a_crash_exports_once(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    from sqlalchemy import update

    from server.models import JobState

    # Given an export the worker ran, whose job was left as if the worker died before
    # marking it done (the export's transaction had committed)
    await _approved_payout(app, "cat", 2500)
    csrf = await _admin(app, client)
    form = {
        "action": "export",
        "form_key": "9" * 32,
        "debtor_name": "Likewise e.V.",
        "debtor_iban": "DE02120300000000202051",
        "debtor_bic": "BYLADEM1001",
        "csrf_token": csrf,
    }
    started = await client.post("/admin/runs", data=form)
    await context(app).worker.drain()
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    async with context(app).db.transaction() as session:
        await session.exec(
            update(Job)
            .where(col(Job.id) == job_id)
            .values(state=JobState.queued, finished_at=None, run_after=utcnow())
        )
    # When the worker runs it again
    await context(app).worker.drain()
    # Then there is still one batch, and the run shows it
    async with context(app).db.session() as session:
        batches = (await session.exec(select(PayoutBatch))).all()
    assert len(batches) == 1
    run = await client.get(started.headers["location"])
    assert "Done." in run.text and f"#{batches[0].id}: 1 payout, 25.00 EUR" in run.text
