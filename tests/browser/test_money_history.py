"""A donor's history by month in Chromium, against a real instance whose worker closed last
month: the chart and the month's table say what waits in escrow for a creator who has not
joined, and until when; this month's like shows in the pie chart with its legend. The page
fits 390 px and axe-core finds no serious or critical violation at 1280 and 390 px, light
and dark (the walk of every page sees a donor without closed months)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from server.db.engine import Database
from server.donations.periods import period_of, previous_period
from server.models.base import utcnow
from server.settings import Settings
from tests.browser.test_every_page import AXE, AXE_RUN, FITS
from tests.browser.test_money import _last_month_closed, _liked_before_cat_joined
from tests.support.instances import LiveInstance
from tests.support.ledger import like, web_thing

HISTORY_RIGHT_EDGES = """() => [...document.querySelectorAll(
  'section.money-history figure, section.money-history table, section.money-history tr')]
  .map(e => Math.round(e.getBoundingClientRect().right))"""


async def _likes_a_page_now(instance: LiveInstance) -> None:
    settings = Settings(
        data_dir=instance.data_dir, domain=instance.domain, database_url=instance.database_url
    )
    db = Database(instance.database_url)
    try:
        await like(db, settings, 1, web_thing("https://blog.example/zine-12"))
    finally:
        await db.dispose()


async def _axe(page: Page) -> list[str]:
    problems = []
    await page.add_script_tag(path=str(AXE))
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            problems += [f"{width} px {scheme}: {v}" for v in await page.evaluate(AXE_RUN)]
    return problems


async def test_last_months_escrow_shows_in_the_history_chart_and_table(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given Dora liked cat's post last month before cat joined, and the worker closed it
    instance = instances(autostart=False)
    instance.cli(
        "users", "create", "dora", "--email", "d@example.org", "--password", "correct horse"
    )
    instance.cli("wallet", "credit", "dora", "20.00", "--reference", "bank-1")
    await _liked_before_cat_joined(instance)  # a 6.00 budget
    instance.start()
    await _last_month_closed(instance)
    # And this month she likes a page on a blog
    await _likes_a_page_now(instance)
    await page.goto(f"{instance.base_url}/login")
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    # When she opens her money page
    await page.goto(f"{instance.base_url}/money")
    # Then last month's bar and row say 6.00 waits in escrow, until 90 days after the close
    last = previous_period(period_of(utcnow()))
    chart = page.get_by_role("img", name="Where each closed month's budget went")
    await expect(chart).to_be_visible()
    await expect(chart.locator("rect.part-waiting title")).to_have_text(
        [f"{last}: 6.00 EUR waits in escrow"]
    )
    month = page.locator(f'section.history-month[data-period="{last}"]')
    await expect(month.locator(".month-summary")).to_have_text(
        "6.00 EUR left your wallet for 1 like."
    )
    until = (utcnow() + timedelta(days=90)).date()
    waiting = month.locator("tr.history-creator td.waiting")
    await expect(waiting).to_have_text([f"6.00 EUR until {until}"])
    closed = month.locator("tr.wallet-line.close_reserve .amount")
    await expect(closed).to_have_text(["-6.00 EUR"])
    # And this month's like is in the pie chart's legend
    await expect(page.locator("ul.pie-legend .legend-value")).to_have_text(["6.00 EUR (100.0%)"])
    await page.screenshot(path=str(tmp_path / "history-1280.png"), full_page=True)
    # And the page fits a phone, and axe finds nothing serious, light and dark
    assert await _axe(page) == []
    await page.set_viewport_size({"width": 390, "height": 844})
    fits = await page.evaluate(FITS)  # what does not fit scrolls inside its own box
    assert (fits["width"], fits["wide"]) == (390, "")
    # The history's own chart and tables fit without scrolling
    rights = await page.evaluate(HISTORY_RIGHT_EDGES)
    assert rights and max(rights) <= 390, rights
    await page.screenshot(path=str(tmp_path / "history-390.png"), full_page=True)
    assert "ledger OK" in instance.cli("ledger", "check").stdout
