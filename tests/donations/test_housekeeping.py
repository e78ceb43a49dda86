"""The worker's housekeeping: one job per time slot returns expired escrow pro rata and
closes ended months (never the running one); a failing step stalls no other; slots, leases
and races."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from server.db.engine import Database
from server.donations import close as close_service
from server.donations.housekeeping import HOUSEKEEPING_JOB, run_housekeeping
from server.donations.periods import period_of, period_start, previous_period
from server.escrow.escrow import expire_escrow
from server.escrow.notices import CREATOR_NOTICES_JOB
from server.jobs.queue import ClaimedJob
from server.jobs.schedule import slot_key
from server.jobs.worker import JobContext, Scheduled, Worker
from server.models import EscrowLine, Job, JobState, Period
from server.models.base import utcnow
from server.registry import job_handlers
from server.settings import Settings
from tests.support.ledger import assert_books_balance, balance, donor, like, wallet, web_thing

THIS_MONTH = period_of(utcnow())
LAST_MONTH = previous_period(THIS_MONTH)
MONTH_BEFORE = previous_period(LAST_MONTH)


def _worker(db: Database, settings: Settings) -> Worker:
    """A worker with the registry's housekeeping handler (the close's settlement jobs,
    which need HTTP, are left queued)."""
    handlers = {HOUSEKEEPING_JOB: job_handlers()[HOUSEKEEPING_JOB]}
    return Worker(JobContext(db, settings), handlers)


async def _tick(db: Database, settings: Settings) -> int:
    """What the worker loop does once a slot: enqueue the slot's job, then run the queue."""
    worker = _worker(db, settings)
    await worker.schedule_due()
    return await worker.drain()


async def _jobs(db: Database) -> list[Job]:
    async with db.session() as session:
        rows = await session.exec(select(Job).where(Job.kind == HOUSEKEEPING_JOB))
        return list(rows.all())


async def _stage(db: Database, period: str) -> str | None:
    async with db.session() as session:
        row = await session.get(Period, period)
        return None if row is None else row.stage


async def _escrow_from(db: Database, settings: Settings, month: str) -> tuple[int, int, int]:
    """Three donors' shares for one web site, closed into escrow; returns their ids."""
    at = period_start(month) + timedelta(days=3)
    ids = []
    for name, budget in (("ann", 300), ("bob", 600), ("cy", 250)):
        who = await donor(db, settings, name, funds=1000, budget=budget)
        await like(db, settings, who, web_thing("https://blog.example/a"), at=at)
        ids.append(who)
    await close_service.close_period(db, settings, month)
    return ids[0], ids[1], ids[2]


async def _age_escrow(db: Database, days: int) -> None:
    async with db.transaction() as session:
        await session.exec(update(EscrowLine).values(created_at=utcnow() - timedelta(days=days)))


async def test_a_tick_returns_expired_escrow_to_the_donors_pro_rata(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given shares of a closed month held in escrow longer than the escrow time
    ann, bob, cy = await _escrow_from(db, settings, MONTH_BEFORE)
    assert [await balance(db, settings, wallet(d)) for d in (ann, bob, cy)] == [700, 400, 750]
    await _age_escrow(db, settings.escrow_days + 1)
    # When the worker's housekeeping runs
    with caplog.at_level(logging.INFO, logger="likewise.housekeeping"):
        assert await _tick(db, settings) == 1
    # Then each donor has their own share back, the lines are returned, the books balance
    assert [await balance(db, settings, wallet(d)) for d in (ann, bob, cy)] == [1000, 1000, 1000]
    async with db.session() as session:
        assert set((await session.exec(select(EscrowLine.state))).all()) == {"returned"}
    await assert_books_balance(db)
    assert [job.state for job in await _jobs(db)] == [JobState.done]
    assert "event=escrow_expired returned=11.50 currency=EUR" in caplog.text
    # And a later slot's run finds nothing more to return
    assert await _tick(db, settings.replace(housekeeping_minutes=7)) == 1
    assert [await balance(db, settings, wallet(d)) for d in (ann, bob, cy)] == [1000, 1000, 1000]


async def test_escrow_younger_than_the_escrow_time_stays(db: Database, settings: Settings) -> None:
    ann, _, _ = await _escrow_from(db, settings, MONTH_BEFORE)
    await _age_escrow(db, settings.escrow_days - 1)
    await _tick(db, settings)
    assert await balance(db, settings, wallet(ann)) == 700
    async with db.session() as session:
        assert set((await session.exec(select(EscrowLine.state))).all()) == {"held"}


async def test_a_tick_closes_the_ended_month_but_not_the_running_one(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given likes last month and this month
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    last = period_start(LAST_MONTH) + timedelta(days=10)
    await like(db, settings, ann, web_thing("https://blog.example/old"), at=last)
    await like(db, settings, ann, web_thing("https://blog.example/new"))
    # When the worker's housekeeping runs
    with caplog.at_level(logging.INFO, logger="likewise.housekeeping"):
        await _tick(db, settings)
    # Then last month is closed (the budget spent once) and this month still open
    assert await _stage(db, LAST_MONTH) == "closed"
    assert await _stage(db, THIS_MONTH) == "open"
    assert await balance(db, settings, wallet(ann)) == 700
    await assert_books_balance(db)
    assert f"event=period_closed period={LAST_MONTH} stage=closed donors=1 spent=300" in (
        caplog.text
    )
    # And the next slot's run changes nothing
    await _tick(db, settings.replace(housekeeping_minutes=7))
    assert await _stage(db, THIS_MONTH) == "open"
    assert await balance(db, settings, wallet(ann)) == 700


async def test_auto_close_off_leaves_ended_months_to_the_admin(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    last = period_start(LAST_MONTH) + timedelta(days=10)
    await like(db, settings, ann, web_thing("https://blog.example/old"), at=last)
    await _tick(db, settings.replace(auto_close=False))
    assert await _stage(db, LAST_MONTH) == "open"
    assert await balance(db, settings, wallet(ann)) == 1000


async def test_a_close_killed_in_the_tick_is_resumed_by_the_retry(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a donor with a like last month, and a close that dies after its start
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    last = period_start(LAST_MONTH) + timedelta(days=10)
    await like(db, settings, ann, web_thing("https://blog.example/old"), at=last)
    real_batch = close_service.close_batch

    async def killed(*args: Any, **kwargs: Any) -> int:
        raise ConnectionError("worker lost its database mid-close")

    monkeypatch.setattr(close_service, "close_batch", killed)
    await _tick(db, settings)
    assert await _stage(db, LAST_MONTH) == "closing"
    [job] = await _jobs(db)
    assert job.state == JobState.queued and "mid-close" in job.last_error
    # When the job's retry comes due and runs (sooner than the next slot)
    monkeypatch.setattr(close_service, "close_batch", real_batch)
    async with db.transaction() as session:
        await session.exec(update(Job).values(run_after=utcnow()))
    assert await _worker(db, settings).drain() == 1
    # Then the close finished where it stopped, spending the budget once
    assert await _stage(db, LAST_MONTH) == "closed"
    assert await balance(db, settings, wallet(ann)) == 700
    await assert_books_balance(db)


async def test_a_month_that_cannot_close_stalls_no_other_step(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given LIKEWISE_UNSPENT_TO naming no account, a like last month, an old finished job
    broken = settings.replace(unspent_to="charity")
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    last = period_start(LAST_MONTH) + timedelta(days=10)
    await like(db, settings, ann, web_thing("https://blog.example/old"), at=last)
    old = utcnow() - timedelta(days=60)
    async with db.transaction() as session:
        session.add(
            Job(
                kind="test.old",
                state=JobState.done,
                created_at=old,
                run_after=old,
                finished_at=old,
            )
        )
    # When the worker's housekeeping runs
    with caplog.at_level(logging.INFO, logger="likewise.housekeeping"):
        assert await _tick(db, broken) == 1
    # Then the month stays open, and the failure is logged and on the job's row
    assert await _stage(db, LAST_MONTH) == "open"
    reason = "ValidationFailed: LIKEWISE_UNSPENT_TO names 'charity', which is no account here"
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failed] == [
        f"event=housekeeping_step_failed step=close period={LAST_MONTH} reason={reason}"
    ]
    [job] = await _jobs(db)
    assert job.state == JobState.failed
    assert job.last_error == f"step=close period={LAST_MONTH} reason={reason}"
    # but the other steps ran: the old job row is gone, this slot's notices run is asked for
    async with db.session() as session:
        kinds = set((await session.exec(select(Job.kind))).all())
    assert kinds == {HOUSEKEEPING_JOB, CREATOR_NOTICES_JOB}
    # When the admin creates the account, the next slot's run closes the month
    charity = await donor(db, settings, "charity")
    assert await _tick(db, broken.replace(housekeeping_minutes=7)) == 1
    assert await _stage(db, LAST_MONTH) == "closed"
    assert await balance(db, settings, wallet(ann)) == 700
    assert await balance(db, settings, wallet(charity)) == 0
    await assert_books_balance(db)


async def test_the_report_lists_a_failed_close_and_later_months_wait(
    db: Database, settings: Settings
) -> None:
    # Given likes in the two months before this one, and no account for unspent budgets
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    for month in (MONTH_BEFORE, LAST_MONTH):
        at = period_start(month) + timedelta(days=10)
        await like(db, settings, ann, web_thing(f"https://blog.example/{month}"), at=at)
    # When housekeeping runs
    report = await run_housekeeping(db, settings.replace(unspent_to="charity"))
    # Then the older month's close failed, and the later one was not tried before it
    assert [(f.step, f.period) for f in report.failed] == [("close", MONTH_BEFORE)]
    assert "which is no account here" in report.failed[0].reason
    assert report.closed == []
    assert [await _stage(db, m) for m in (MONTH_BEFORE, LAST_MONTH)] == ["open", "open"]


async def test_two_workers_in_the_same_slot_run_it_once(db: Database, settings: Settings) -> None:
    # Given old escrow, and two workers (say, two processes) starting in the same slot
    ann, bob, cy = await _escrow_from(db, settings, MONTH_BEFORE)
    await _age_escrow(db, settings.escrow_days + 1)
    first, second = _worker(db, settings), _worker(db, settings)
    # When both enqueue the slot's housekeeping and both run their queues at once
    added = await asyncio.gather(first.schedule_due(), second.schedule_due())
    ran = await asyncio.gather(first.drain(), second.drain())
    # Then there was one job, run by one of them, and the money went back once
    assert sorted(added) == [0, 1] and sorted(ran) == [0, 1]
    assert len(await _jobs(db)) == 1
    assert [await balance(db, settings, wallet(d)) for d in (ann, bob, cy)] == [1000, 1000, 1000]
    await assert_books_balance(db)
    # And a restarted worker in the same slot does not run it again
    assert await _worker(db, settings).schedule_due() == 0


async def test_two_expiries_at_once_return_the_money_once(db: Database, settings: Settings) -> None:
    ann, bob, cy = await _escrow_from(db, settings, MONTH_BEFORE)
    await _age_escrow(db, settings.escrow_days + 1)

    async def expire() -> int:
        async with db.transaction() as session:
            return await expire_escrow(session, settings)

    assert sorted(await asyncio.gather(expire(), expire())) == [0, 1150]
    assert [await balance(db, settings, wallet(d)) for d in (ann, bob, cy)] == [1000, 1000, 1000]
    await assert_books_balance(db)


def _scheduled(calls: list[int], pause: float = 0.0) -> Scheduled:
    async def handler(_: JobContext, job: ClaimedJob) -> None:
        calls.append(job.id)
        await asyncio.sleep(pause)

    return Scheduled(handler, lambda settings: timedelta(hours=1))


async def test_a_job_whose_slot_has_passed_is_skipped(db: Database, settings: Settings) -> None:
    calls: list[int] = []
    worker = Worker(JobContext(db, settings), {"test.tick": _scheduled(calls)})
    old = slot_key("test.tick", timedelta(hours=1), utcnow() - timedelta(hours=2))
    async with db.transaction() as session:
        session.add(Job(kind="test.tick", payload=f'{{"slot":"{old}"}}', dedupe_key=old))
    assert await worker.drain() == 1
    assert calls == []
    await worker.schedule_due()
    assert await worker.drain() == 1
    assert len(calls) == 1


async def test_a_slot_waits_while_the_previous_run_is_still_going(
    db: Database, settings: Settings
) -> None:
    # Given the previous slot's job still running on a live worker
    calls: list[int] = []
    worker = Worker(JobContext(db, settings), {"test.tick": _scheduled(calls)})
    old = slot_key("test.tick", timedelta(hours=1), utcnow() - timedelta(hours=1))
    async with db.transaction() as session:
        session.add(
            Job(
                kind="test.tick",
                payload=f'{{"slot":"{old}"}}',
                dedupe_key=old,
                state=JobState.running,
                locked_by="elsewhere",
                locked_until=utcnow() + timedelta(minutes=5),
            )
        )
    # When this slot's job comes up
    await worker.schedule_due()
    assert await worker.run_once() == 1
    # Then it does not run beside it, but waits to retry
    assert calls == []
    async with db.session() as session:
        waiting = (await session.exec(select(Job).where(col(Job.dedupe_key) != old))).one()
    assert waiting.state == JobState.queued and "still running" in waiting.last_error
    assert waiting.run_after > utcnow() + timedelta(seconds=30)


async def test_a_long_run_keeps_its_lease(db: Database, settings: Settings) -> None:
    # Given a scheduled job that outlives its lease several times over
    calls: list[int] = []
    lease = timedelta(seconds=1)
    handlers = {"test.tick": _scheduled(calls, pause=3.0)}
    running = Worker(JobContext(db, settings), handlers, lease=lease)
    other = Worker(JobContext(db, settings), handlers, lease=lease)
    await running.schedule_due()
    task = asyncio.create_task(running.run_once())
    # When another worker keeps looking for work meanwhile
    stolen = 0
    while not task.done():
        await asyncio.sleep(0.1)
        stolen += await other.run_once()
    # Then it never took the job over: it ran once
    assert await task == 1
    assert stolen == 0 and len(calls) == 1


def test_slots_of_two_lengths_that_start_together_are_two_slots() -> None:
    hour = datetime(2026, 11, 24, 20, 3, tzinfo=UTC)  # 20:00 starts an hour and a 5-minute slot
    assert slot_key("k", timedelta(hours=1), hour) != slot_key("k", timedelta(minutes=5), hour)
    later = hour + timedelta(minutes=30)
    assert slot_key("k", timedelta(hours=1), hour) == slot_key("k", timedelta(hours=1), later)
