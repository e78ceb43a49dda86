"""The money page's words about the coming close: the real close day from the period code,
what leaves the wallet (the budget, or what the wallet can pay), among how many likes; the
months the wallet covers; a warning when it will not cover the close. First as arithmetic
(every edge: zero budget, paused, a short or empty wallet, no likes, the month's last day,
currencies of other scales), then read from a real database through the page's service."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.donations.close import close_period
from server.donations.dashboard import donor_page
from server.donations.outlook import MONTHS, Standing, close_day, outlook
from server.donations.periods import next_period, period_of
from server.models.base import utcnow
from server.settings import Settings
from tests.support.accounts import csrf_from, log_in
from tests.support.ledger import donor, like, web_thing

DEC = "2026-12"
MID_DEC = date(2026, 12, 7)


def _standing(**changes: object) -> Standing:
    values: dict[str, object] = {
        "period": DEC,
        "wallet": 5000,
        "budget": 1000,
        "paused": False,
        "likes": 5,
        "unspent_to": "",
    }
    values.update(changes)
    return Standing(**values)  # type: ignore[arg-type]


def test_the_close_day_is_the_last_day_of_the_period() -> None:
    assert close_day("2026-12") == date(2026, 12, 31)
    assert close_day("2026-02") == date(2026, 2, 28)
    assert close_day("2028-02") == date(2028, 2, 29)  # a leap year
    assert close_day("2026-04") == date(2026, 4, 30)


def test_the_budget_leaves_split_among_the_likes(settings: Settings) -> None:
    seen = outlook(_standing(), settings, MID_DEC)
    assert seen.sentence == "On 31 Dec, 10.00 EUR leaves your wallet, split among your 5 likes."
    assert (seen.close_on, seen.leaves, seen.months_covered) == (date(2026, 12, 31), 1000, 5)
    assert seen.covered == "Your wallet covers 5 months at 10.00 EUR a month."
    assert seen.warning == ""
    one = outlook(_standing(likes=1, wallet=1000), settings, MID_DEC)
    assert one.sentence == "On 31 Dec, 10.00 EUR leaves your wallet, all for your one like."
    assert one.covered == "Your wallet covers 1 month at 10.00 EUR a month."
    assert one.warning == ""  # exactly enough


def test_a_wallet_short_of_the_budget_gives_what_it_holds_and_warns(settings: Settings) -> None:
    seen = outlook(_standing(wallet=300, likes=2), settings, MID_DEC)
    assert seen.leaves == 300
    assert seen.sentence == (
        "On 31 Dec, 3.00 EUR leaves your wallet (all your wallet holds, less than your "
        "10.00 EUR budget), split among your 2 likes."
    )
    assert seen.months_covered == 0
    assert seen.covered == "Your wallet does not cover a whole month at 10.00 EUR a month."
    assert "will not cover the close on 31 Dec" in seen.warning
    assert "holds 3.00 EUR of your 10.00 EUR budget. Add 7.00 EUR or more" in seen.warning


def test_an_empty_wallet_gives_nothing_and_says_so(settings: Settings) -> None:
    seen = outlook(_standing(wallet=0, likes=3), settings, MID_DEC)
    assert seen.leaves == 0
    assert seen.sentence == (
        "On 31 Dec nothing can leave your wallet: it is empty, so your 3 likes get nothing "
        "unless you add money first."
    )
    assert seen.months_covered == 0
    assert seen.warning.startswith("Your wallet is empty: the close on 31 Dec cannot give")


def test_a_zero_budget_takes_nothing_and_covers_no_count_of_months(settings: Settings) -> None:
    seen = outlook(_standing(budget=0, wallet=0), settings, MID_DEC)
    assert seen.leaves == 0
    assert seen.sentence == "Your monthly budget is 0.00 EUR: nothing leaves your wallet on 31 Dec."
    assert (seen.months_covered, seen.covered, seen.warning) == (None, "No budget is taken.", "")


def test_a_paused_budget_takes_nothing_and_never_warns(settings: Settings) -> None:
    seen = outlook(_standing(paused=True, wallet=100), settings, MID_DEC)
    assert seen.leaves == 0
    assert seen.sentence == "Your likes are paused: nothing leaves your wallet on 31 Dec."
    assert seen.months_covered is None
    assert seen.covered == "Paused: no budget is taken."
    assert seen.warning == ""  # the wallet is short, but nothing will be taken


def test_no_likes_this_month_keeps_the_budget_unless_an_account_takes_it(
    settings: Settings,
) -> None:
    kept = outlook(_standing(likes=0), settings, MID_DEC)
    assert kept.leaves == 0
    assert kept.sentence == (
        "No likes yet this month: if you like nothing, nothing leaves your wallet on 31 Dec. "
        "Like things and your 10.00 EUR budget is split among them."
    )
    assert kept.months_covered == 5  # the budget is still set: it covers five months of likes
    given = outlook(_standing(likes=0, unspent_to="charity"), settings, MID_DEC)
    assert given.leaves == 1000
    assert given.sentence.startswith(
        "On 31 Dec, 10.00 EUR leaves your wallet for @charity, as you liked nothing this month"
    )
    short = outlook(_standing(likes=0, wallet=0), settings, MID_DEC)
    assert short.warning.startswith("Your wallet is empty")  # likes to come would get nothing


def test_on_the_months_last_day_it_closes_tonight(settings: Settings) -> None:
    seen = outlook(_standing(), settings, date(2026, 12, 31))
    assert seen.sentence == (
        "Tonight (31 Dec), 10.00 EUR leaves your wallet, split among your 5 likes."
    )
    feb = outlook(_standing(period="2026-02", wallet=200), settings, date(2026, 2, 28))
    assert feb.close_on == date(2026, 2, 28)
    assert "the close tonight (28 Feb)" in feb.warning
    # The day before is not the last day
    assert outlook(_standing(), settings, date(2026, 12, 30)).sentence.startswith("On 31 Dec,")


@pytest.mark.parametrize(
    ("currency", "wallet", "budget", "words"),
    [
        ("JPY", 5000, 1000, "On 31 Dec, 1000 JPY leaves your wallet"),
        ("KWD", 5000, 1000, "On 31 Dec, 1.000 KWD leaves your wallet"),
    ],
)
def test_amounts_use_the_currencys_own_scale(
    settings: Settings, currency: str, wallet: int, budget: int, words: str
) -> None:
    other = settings.replace(currency=currency)
    seen = outlook(_standing(wallet=wallet, budget=budget), other, MID_DEC)
    assert seen.sentence.startswith(words)
    assert seen.covered.endswith(f"{words.split(', ')[1].split(' leaves')[0]} a month.")


async def test_the_page_reads_the_open_period_wallet_budget_and_likes(
    db: Database, settings: Settings
) -> None:
    # Given a donor with 25.00, a 10.00 budget and two likes this month
    ann = await donor(db, settings, "ann", funds=2500, budget=1000)
    await like(db, settings, ann, web_thing("https://blog.example/a"))
    await like(db, settings, ann, web_thing("https://blog.example/b"))
    today = utcnow().date()
    # When the page is read
    page = await donor_page(db, settings, ann, today)
    # Then it names this month's real last day, the budget and both likes
    assert page.donor.period == period_of(utcnow())
    assert page.outlook.close_on == close_day(page.donor.period)
    assert page.outlook.leaves == 1000 == page.donor.spendable
    assert "10.00 EUR leaves your wallet, split among your 2 likes." in page.outlook.sentence
    assert page.outlook.months_covered == 2
    assert page.outlook.warning == ""
    # And once the budget is above the wallet, a warning; paused, none
    async with db.transaction() as session:
        await update_donor_settings(session, settings, ann, monthly_budget=4000)
    short = await donor_page(db, settings, ann, today)
    assert short.outlook.leaves == 2500 == short.donor.spendable
    assert "Add 15.00 EUR or more" in short.outlook.warning
    async with db.transaction() as session:
        await update_donor_settings(session, settings, ann, paused=True)
    paused = await donor_page(db, settings, ann, today)
    assert (paused.outlook.leaves, paused.donor.spendable, paused.outlook.warning) == (0, 0, "")


async def test_a_donor_without_likes_or_money_reads_what_to_do(
    db: Database, settings: Settings
) -> None:
    bob = await donor(db, settings, "bob")
    page = await donor_page(db, settings, bob, datetime(2026, 12, 31, tzinfo=UTC).date())
    assert page.outlook.leaves == 0
    assert page.outlook.sentence.startswith("No likes yet this month")
    assert page.outlook.warning.startswith("Your wallet is empty")
    assert (page.guide.added_money, page.guide.set_budget, page.guide.liked) == (
        False,
        False,
        False,
    )


async def test_the_money_page_shows_the_guide_until_dismissed_and_the_sentence(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    settings, db = context(app).settings, context(app).db
    await donor(db, settings, "cid", funds=1500)
    await log_in(client, "cid")
    shown = await client.get("/money")
    assert shown.status_code == 200
    assert "Getting started: three steps" in shown.text
    assert 'class="guide-step done" data-step="add-money"' in shown.text
    assert 'class="guide-step todo" data-step="set-budget"' in shown.text
    assert "No likes yet this month" in shown.text
    assert 'class="months-covered">Your wallet covers' in shown.text
    # A budget above the wallet: the page warns, and the budget step is ticked
    saved = await client.post(
        "/money/budget", data={"monthly_budget": "20.00", "csrf_token": csrf_from(shown.text)}
    )
    assert saved.status_code == 303
    after = await client.get("/money")
    assert 'class="guide-step done" data-step="set-budget"' in after.text
    assert 'class="outlook-warning" role="alert"' in after.text
    assert "Add 5.00 EUR or more" in after.text
    # A refused budget keeps the page, its words and the guide
    refused = await client.post(
        "/money/budget", data={"monthly_budget": "-1", "csrf_token": csrf_from(after.text)}
    )
    assert refused.status_code == 422
    assert "When the month closes" in refused.text
    # Dismissed, the guide is gone for this login
    hidden = await client.post("/money/guide/dismiss", data={"csrf_token": csrf_from(after.text)})
    assert hidden.status_code == 303
    assert "Getting started" not in (await client.get("/money")).text


async def test_after_a_forced_close_the_sentence_names_the_next_months_last_day(
    db: Database, settings: Settings
) -> None:
    # Given this month was closed early by the admin (likes now count in the next month)
    dan = await donor(db, settings, "dan", funds=3000, budget=1000)
    this_month = period_of(utcnow())
    await close_period(db, settings, this_month, force=True)
    await like(db, settings, dan, web_thing("https://blog.example/late"))
    # When the page is read
    page = await donor_page(db, settings, dan, utcnow().date())
    # Then the close it speaks of is the next month's, on that month's last day
    assert page.donor.period == next_period(this_month)
    assert page.outlook.close_on == close_day(next_period(this_month))
    assert page.outlook.sentence.startswith(
        f"On {page.outlook.close_on.day} {MONTHS[page.outlook.close_on.month - 1]}, "
        "10.00 EUR leaves your wallet, all for your one like."
    )
