"""The donor's history by month, read from a real database after real closes: each creator
and what they got, what waits in escrow for a creator who has not joined (until the escrow
expires), what came back once it expired; money added, refunds, disputes and returned
escrow as wallet lines; a month without likes given to LIKEWISE_UNSPENT_TO. And the first-
visit guide's three steps as the donor does them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from server.accounts.actors import actor_uri
from server.context import context
from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.donations.close import close_period
from server.donations.history import donor_history, guide_steps
from server.escrow.escrow import expire_escrow
from server.models import LedgerKind, TransferKind
from server.models.base import utcnow
from server.models.stripe_payments import StripeEvent
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from server.settings import Settings
from tests.support.accounts import log_in
from tests.support.ledger import assert_books_balance, donor, fediverse_thing, like, web_thing

OCT = datetime(2026, 10, 10, tzinfo=UTC)
NOV = datetime(2026, 11, 3, tzinfo=UTC)


async def _october_and_november(db: Database, settings: Settings) -> tuple[int, int]:
    """Ann (30.00, budget 9.00) liked cat's post (cat has an account) and a blog page (its
    author has not joined) in October, and nothing in November; both months closed."""
    cat = await donor(db, settings, "cat")
    ann = await donor(db, settings, "ann", funds=3000, budget=900)
    actor = actor_uri(settings, "cat")
    await like(db, settings, ann, fediverse_thing(f"{actor}/statuses/1", actor), at=OCT)
    await like(db, settings, ann, web_thing("https://blog.example/a"), at=OCT)
    await close_period(db, settings, "2026-10")
    await close_period(db, settings, "2026-11")
    return ann, cat


async def test_a_closed_month_lists_each_creator_and_what_waits_in_escrow(
    db: Database, settings: Settings
) -> None:
    ann, _ = await _october_and_november(db, settings)
    async with db.session() as session:
        months = await donor_history(session, settings, ann)
    by_period = {month.period: month for month in months}
    october = by_period["2026-10"]
    assert (october.closed, october.likes, october.spent, october.fee) == (True, 2, 900, 0)
    lines = {line.creator: line for line in october.creators}
    cat = lines[actor_uri(settings, "cat")]
    blog = lines["https://blog.example"]
    # cat has joined: her share reached her; the blog's waits until the escrow expires
    assert (cat.got, cat.waiting, cat.returned) == (450, 0, 0)
    assert (blog.got, blog.waiting, blog.returned) == (0, 450, 0)
    assert blog.waits_until == (utcnow() + timedelta(days=settings.escrow_days)).date()
    assert (october.got, october.waiting, october.returned) == (450, 450, 0)
    # November: no likes, nothing taken (no LIKEWISE_UNSPENT_TO): no month to show
    assert "2026-11" not in by_period
    # The wallet's lines: October's close in October; the money added in the month it came
    assert [(line.what, line.amount) for line in october.wallet] == [
        ("The month closed: your budget left the wallet", -900)
    ]
    added = [line for month in months for line in month.wallet if line.kind == "funding"]
    assert [(line.what, line.amount) for line in added] == [("Money added", 3000)]
    assert [month.period for month in months] == sorted(by_period, reverse=True)


async def test_expired_escrow_comes_back_and_is_a_wallet_line(
    db: Database, settings: Settings
) -> None:
    ann, _ = await _october_and_november(db, settings)
    # When the escrow time has passed
    async with db.transaction() as session:
        returned = await expire_escrow(
            session, settings, utcnow() + timedelta(days=settings.escrow_days + 1)
        )
    assert returned == 450
    async with db.session() as session:
        months = await donor_history(session, settings, ann)
    october = next(month for month in months if month.period == "2026-10")
    blog = next(line for line in october.creators if line.creator == "https://blog.example")
    # Then the blog's share came back, on the day it did, and nothing waits
    assert (blog.got, blog.waiting, blog.returned) == (0, 0, 450)
    assert blog.returned_on == utcnow().date()
    assert (october.waiting, october.returned) == (0, 450)
    came_back = [line for month in months for line in month.wallet if line.kind == "escrow_return"]
    assert [(line.amount, line.on) for line in came_back] == [(450, utcnow().date())]
    assert came_back[0].what.startswith("Came back from escrow")
    await assert_books_balance(db)


async def _taken_back(
    db: Database, settings: Settings, donor_id: int, event: str, kind: str, amount: int
) -> None:
    """A reversal as the Stripe webhook books it (server/money/funding/stripe.py): the event
    handled, the amount from the wallet to the outside world under the event's key."""
    async with db.transaction() as session:
        session.add(StripeEvent(event_id=event, type=kind, outcome="test"))
        wallet, world = (
            Owner(LedgerKind.donor_wallet, account_id=donor_id),
            Owner(LedgerKind.outside_world),
        )
        ids = await ledger_account_ids(session, settings, [wallet, world])
        await post_transfer(
            session,
            TransferSpec(
                f"reverse:stripe:{event}", ids[wallet], ids[world], amount, TransferKind.reversal
            ),
        )


async def test_refunds_and_disputes_are_wallet_lines_of_their_month(
    db: Database, settings: Settings
) -> None:
    bob = await donor(db, settings, "bob", funds=5000)
    await _taken_back(db, settings, bob, "evt_refund_1", "charge.refunded", 1200)
    await _taken_back(db, settings, bob, "evt_dispute_1", "charge.dispute.created", 800)
    async with db.session() as session:
        months = await donor_history(session, settings, bob)
    # Not closed yet: this month's lines alone
    assert [(month.period, month.closed) for month in months] == [(f"{utcnow():%Y-%m}", False)]
    assert [(line.what, line.amount) for line in months[0].wallet] == [
        ("Dispute: a payment taken back", -800),
        ("Refund: a payment taken back", -1200),
        ("Money added", 5000),
    ]
    await assert_books_balance(db)


async def test_a_month_without_likes_given_to_the_named_account_is_a_line(
    db: Database, settings: Settings
) -> None:
    named = settings.replace(unspent_to="@charity", fee_bps=1000)
    await donor(db, named, "charity")
    dee = await donor(db, named, "dee", funds=2000, budget=1000)
    await close_period(db, named, "2026-10")
    async with db.session() as session:
        october = (await donor_history(session, named, dee))[-1]
    assert (october.period, october.likes, october.spent, october.fee) == ("2026-10", 0, 1000, 100)
    assert (october.unspent, october.creators) == (900, [])


async def test_a_donor_with_nothing_has_no_history(db: Database, settings: Settings) -> None:
    eve = await donor(db, settings, "eve")
    async with db.session() as session:
        assert await donor_history(session, settings, eve) == []


async def test_the_guide_ticks_each_step_as_it_is_done(db: Database, settings: Settings) -> None:
    fay = await donor(db, settings, "fay")
    async with db.session() as session:
        steps = await guide_steps(session, fay)
    assert (steps.added_money, steps.set_budget, steps.liked, steps.done) == (
        False,
        False,
        False,
        False,
    )
    async with db.transaction() as session:
        await update_donor_settings(session, settings, fay, monthly_budget=700)
    await like(db, settings, fay, web_thing("https://blog.example/b"))
    async with db.session() as session:
        steps = await guide_steps(session, fay)
    assert (steps.added_money, steps.set_budget, steps.liked, steps.done) == (
        False,
        True,
        True,
        False,
    )
    funded = await donor(db, settings, "gus", funds=200, budget=200)
    await like(db, settings, funded, web_thing("https://blog.example/c"))
    async with db.session() as session:
        assert (await guide_steps(session, funded)).done


async def test_the_page_draws_the_history_chart_and_tables(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    settings, db = context(app).settings, context(app).db
    await _october_and_november(db, settings)
    await log_in(client, "ann")
    shown = await client.get("/money")
    assert shown.status_code == 200
    text = shown.text
    assert '<title id="history-chart-title">Where each closed month' in text
    assert 'class="part-got"' in text and 'class="part-waiting"' in text
    assert "2026-10: 4.50 EUR to creators, 4.50 EUR waiting in escrow" in text
    assert '<td class="waiting">4.50 EUR until' in text
    assert '<tr class="wallet-line close_reserve">' in text
    assert "Getting started" not in text  # money added, a budget set, liked: the guide is done
