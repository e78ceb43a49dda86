"""Housekeeping as admins run it: `likewise serve`'s worker (and `likewise worker --once`)
returns expired escrow and closes the ended month on its own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import update
from sqlmodel import select

from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.donations.close import close_period
from server.donations.housekeeping import HOUSEKEEPING_JOB, housekeeping_interval
from server.donations.periods import period_of, period_start, previous_period
from server.jobs.schedule import slot_key
from server.models import EscrowLine, Job, JobState, Period
from server.models.base import utcnow
from server.settings import Settings
from tests.support.instances import LiveInstance
from tests.support.ledger import balance, like, wallet, web_thing

T = TypeVar("T")

THIS_MONTH = period_of(utcnow())
LAST_MONTH = previous_period(THIS_MONTH)
MONTH_BEFORE = previous_period(LAST_MONTH)


def _settings(instance: LiveInstance) -> Settings:
    return Settings(
        data_dir=instance.data_dir, domain=instance.domain, database_url=instance.database_url
    )


def _with_db(instance: LiveInstance, work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(instance.database_url)
        try:
            return await work(db, _settings(instance))
        finally:
            await db.dispose()

    return asyncio.run(run())


def _funded_donor(instance: LiveInstance) -> None:
    instance.cli(
        "users", "create", "ann", "--email", "a@example.org", "--password", "correct horse"
    )
    instance.cli("wallet", "credit", "ann", "20.00", "--reference", "bank-1")


async def _old_escrow_and_last_months_like(db: Database, settings: Settings) -> None:
    """3.00 EUR closed into escrow the month before last and aged past the escrow time;
    a like last month (not closed) and one this month."""
    async with db.transaction() as session:
        await update_donor_settings(session, settings, 1, monthly_budget=300)
    at = period_start(MONTH_BEFORE) + timedelta(days=2)
    await like(db, settings, 1, web_thing("https://blog.example/a"), at=at)
    await close_period(db, settings, MONTH_BEFORE)
    async with db.transaction() as session:
        aged = utcnow() - timedelta(days=settings.escrow_days + 1)
        await session.exec(update(EscrowLine).values(created_at=aged))
    at = period_start(LAST_MONTH) + timedelta(days=2)
    await like(db, settings, 1, web_thing("https://blog.example/b"), at=at)
    await like(db, settings, 1, web_thing("https://blog.example/c"))


State = tuple[dict[str, str], dict[str, str], int]


async def _state(db: Database, settings: Settings) -> State:
    """Each period's stage, the state of each period's escrow lines, ann's wallet."""
    async with db.session() as session:
        stages = dict((await session.exec(select(Period.id, Period.stage))).all())
        escrow = dict((await session.exec(select(EscrowLine.period, EscrowLine.state))).all())
    return stages, escrow, await balance(db, settings, wallet(1))


def test_serve_runs_housekeeping_on_its_own(instances: Callable[..., LiveInstance]) -> None:
    # Given an instance (not running) with old escrow and an unclosed ended month
    instance = instances(autostart=False)
    _funded_donor(instance)
    _with_db(instance, _old_escrow_and_last_months_like)
    # When the admin starts it, and nobody runs any command
    instance.start()
    closed_line = f"event=period_closed period={LAST_MONTH} stage=closed donors=1 spent=300"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stages, escrow, wallet_now = _with_db(instance, _state)
        done = stages.get(LAST_MONTH) == "closed" and escrow[MONTH_BEFORE] == "returned"
        # the close logs its line just after its commit: wait for the line too
        if done and closed_line in instance.read_log():
            break
        time.sleep(0.5)
    # Then the old escrow went back, last month is closed (its share now held in escrow),
    # and this month still runs
    assert stages[LAST_MONTH] == "closed", instance.read_log()
    assert escrow == {MONTH_BEFORE: "returned", LAST_MONTH: "held"}
    assert stages[THIS_MONTH] == "open"
    assert wallet_now == 2000 - 300 + 300 - 300
    log = instance.read_log()
    assert "event=escrow_expired returned=3.00 currency=EUR" in log
    assert closed_line in log
    assert "ledger OK" in instance.cli("ledger", "check").stdout


def test_worker_once_runs_the_slots_housekeeping(instances: Callable[..., LiveInstance]) -> None:
    instance = instances(autostart=False)
    _funded_donor(instance)
    _with_db(instance, _old_escrow_and_last_months_like)
    ran = instance.cli("worker", "--once")
    assert "ran" in ran.stdout
    stages, escrow, wallet_now = _with_db(instance, _state)
    assert stages[LAST_MONTH] == "closed" and stages[THIS_MONTH] == "open"
    assert escrow == {MONTH_BEFORE: "returned", LAST_MONTH: "held"}
    assert wallet_now == 2000 - 300 + 300 - 300
    # The same slot: housekeeping is not run twice. (Other scheduled kinds, such as the
    # one-minute connection sweep, may have a new slot by now: only housekeeping is counted.)
    settings = _settings(instance)
    before = slot_key(HOUSEKEEPING_JOB, housekeeping_interval(settings), utcnow())
    instance.cli("worker", "--once")
    after = slot_key(HOUSEKEEPING_JOB, housekeeping_interval(settings), utcnow())
    runs = _with_db(instance, _housekeeping_runs)
    assert len(runs) == len({before, after}), runs
    assert all(state == JobState.done for state in runs.values()), runs


async def _housekeeping_runs(db: Database, settings: Settings) -> dict[str, JobState]:
    """Each housekeeping job's slot and state."""
    async with db.session() as session:
        jobs = (await session.exec(select(Job).where(Job.kind == HOUSEKEEPING_JOB))).all()
    return {json.loads(job.payload)["slot"]: job.state for job in jobs}
