"""End to end on a live instance (its own process, its worker inside), driven in Chromium on
a phone-sized screen: the donor connects a Mastodon account on the fake Mastodon API over
real HTTP; favourites given while the instance is down are counted after a restart, once,
and a second restart counts nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from playwright.async_api import Page, expect
from sqlalchemy import update
from sqlmodel import select

from server.db.engine import Database
from server.models import Click, ConnectedAccount
from server.models.base import utcnow
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.instances import LiveInstance

LABEL = "Mastodon and other fediverse servers"
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 390)
  .map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 5).join(' ')"""


async def _row(db: Database) -> tuple[ConnectedAccount | None, int]:
    async with db.session() as session:
        row = (await session.exec(select(ConnectedAccount))).first()
        clicks = len((await session.exec(select(Click))).all())
    return row, clicks


async def _until(db: Database, check: Callable[[ConnectedAccount | None, int], bool]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row, clicks = await _row(db)
        if check(row, clicks):
            return clicks
        await asyncio.sleep(0.3)
    raise AssertionError(f"not reached in time: {await _row(db)}")


async def _due(db: Database) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(ConnectedAccount).values(next_poll_at=utcnow() - timedelta(seconds=1))
        )


async def test_connect_in_the_browser_then_restarts_count_each_favourite_once(
    instances: Callable[..., LiveInstance], page: Page, fake: FakeMastodonApi
) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "dora", "--email", "dora@example.org", "--password", "correct horse"
    )
    db = Database(instance.database_url)
    try:
        # Given the donor connects the account through the pages, on a phone
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{instance.base_url}/login")
        await page.get_by_label("Username or e-mail").fill("dora")
        await page.get_by_label("Password").fill("correct horse")
        await page.get_by_role("button", name="Log in").click()
        await page.goto(f"{instance.base_url}/settings/connections")
        await page.get_by_label(f"Your handle on {LABEL}").fill(f"@donor@{fake.host}")
        await page.get_by_role("button", name=f"Connect {LABEL}").click()
        await expect(page.locator(".notice")).to_contain_text("is connected")
        await _until(db, lambda row, _: row is not None and row.last_checked_at is not None)
        # When two statuses are favourited while the instance is down, and it starts again
        instance.stop()
        fake.favourite("donor")
        fake.favourite("donor")
        await _due(db)
        instance.start()
        # Then the worker counts both
        assert await _until(db, lambda row, clicks: clicks == 2) == 2
        # And after another restart and poll, still two
        before = (await _row(db))[0]
        assert before is not None and before.last_checked_at is not None
        instance.stop()
        await _due(db)
        instance.start()
        checked = before.last_checked_at
        assert (
            await _until(
                db,
                lambda row, _: (
                    row is not None
                    and row.last_checked_at is not None
                    and row.last_checked_at > checked
                ),
            )
            == 2
        )
        await page.goto(f"{instance.base_url}/settings/connections")
        await expect(page.locator(".status")).to_contain_text("2 likes this month")
        assert await page.evaluate(WIDEST) == ""
    finally:
        await db.dispose()
