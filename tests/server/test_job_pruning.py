"""Old finished job rows are deleted by housekeeping, in chunks; unfinished jobs and the
dedupe keys that still guard against a duplicate stay."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from server.db.engine import Database
from server.donations.housekeeping import HOUSEKEEPING_JOB, run_housekeeping
from server.donations.periods import period_of, previous_period
from server.donations.retention import job_retention
from server.escrow.notices import CREATOR_NOTICES_JOB, delivery_key, queue_notices
from server.federation.delivery import DELIVERY_JOB
from server.federation.inbox import processing_job
from server.jobs import pruning
from server.jobs.pruning import Retention, prune_jobs
from server.jobs.queue import enqueue
from server.jobs.schedule import EPOCH, slot_key
from server.jobs.worker import JobContext, Scheduled, Worker
from server.models import Job, JobState
from server.models.base import utcnow
from server.settings import Settings
from server.settlement.peering import PREPARE_JOB
from server.settlement.waiting_notice import notice_key

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
DEFAULTS = Settings(data_dir=Path())  # 30 days for done rows, 90 for failed ones


def _job(state: JobState, age: timedelta, key: str | None = None, kind: str = DELIVERY_JOB) -> Job:
    """A row as the queue leaves it, `age` ago (finished then, if it is finished)."""
    at = utcnow() - age
    finished = at if state in (JobState.done, JobState.failed) else None
    return Job(
        kind=kind,
        dedupe_key=key,
        state=state,
        created_at=at - timedelta(minutes=1),
        run_after=at - timedelta(seconds=30),
        finished_at=finished,
        attempts=1,
    )


async def _add(db: Database, *jobs: Job) -> list[int]:
    async with db.transaction() as session:
        session.add_all(jobs)
        await session.flush()
        return [job.id for job in jobs if job.id is not None]


async def _left(db: Database) -> set[int]:
    async with db.session() as session:
        return {job_id for job_id in (await session.exec(select(Job.id))).all() if job_id}


async def _keys(db: Database) -> set[str | None]:
    async with db.session() as session:
        return set((await session.exec(select(Job.dedupe_key))).all())


def _retention(now: datetime | None = None) -> Retention:
    return job_retention(DEFAULTS, {HOUSEKEEPING_JOB: HOUR}, now or utcnow())


async def test_old_finished_jobs_go_and_recent_or_unfinished_ones_stay(db: Database) -> None:
    # Given finished jobs of every age, and unfinished ones older than any retention
    old_done, old_failed = await _add(
        db, _job(JobState.done, 31 * DAY), _job(JobState.failed, 91 * DAY)
    )
    stay = await _add(
        db,
        _job(JobState.done, 29 * DAY),
        _job(JobState.failed, 31 * DAY),  # failures stay longer: admins look at them
        _job(JobState.failed, 89 * DAY),
        _job(JobState.queued, 200 * DAY),
    )
    leased = _job(JobState.running, 200 * DAY)
    leased.locked_by, leased.locked_until = "elsewhere", utcnow() + timedelta(minutes=5)
    stale = _job(JobState.running, 200 * DAY)  # its worker died: it will run again
    stale.locked_by, stale.locked_until = "dead", utcnow() - DAY
    retrying = _job(JobState.queued, 200 * DAY)
    retrying.attempts, retrying.last_error = 4, "peer answered 503"
    retrying.run_after = utcnow() - 100 * DAY
    stay += await _add(db, leased, stale, retrying)
    # When the prune runs
    report = await prune_jobs(db, _retention())
    # Then only the old finished rows are gone
    assert (report.done, report.failed, report.more) == (1, 1, False)
    assert await _left(db) == set(stay)
    assert old_done not in await _left(db) and old_failed not in await _left(db)


async def test_each_dedupe_key_family_goes_or_stays_by_its_guarantee(db: Database) -> None:
    # Given old finished rows with every dedupe key the code builds
    now = utcnow()
    this_month, last_month = period_of(now), previous_period(period_of(now))
    may_go = [
        slot_key(HOUSEKEEPING_JOB, HOUR, now - 40 * DAY),
        str(processing_job([], 5.0)["dedupe_key"]),
        f"{CREATOR_NOTICES_JOB}:{slot_key(HOUSEKEEPING_JOB, HOUR, now - 40 * DAY)}",
        f"{CREATOR_NOTICES_JOB}:prepare:17",
        delivery_key("https://mastodon.example/users/ann", last_month),
    ]
    stays = [
        f"{PREPARE_JOB}:{last_month}",
        notice_key("mastodon.example"),
        delivery_key("https://mastodon.example/users/bob", this_month),
        "some-new-family:1",  # not judged yet: stays
        "Housekeeping:3600s:2026-01-01T00:00:00Z",  # a prefix matches exactly, case too
    ]
    await _add(db, *(_job(JobState.done, 100 * DAY, key) for key in may_go + stays))
    # When the prune runs
    await prune_jobs(db, _retention(now), now=now)
    # Then the keys nothing can enqueue again went; the others stay
    assert await _keys(db) == set(stays)


async def test_the_guarantees_kept_still_hold_after_a_prune(db: Database) -> None:
    # Given a period's settlement preparation and the note to another instance, long done
    period = previous_period(previous_period(period_of(utcnow())))
    prepare, told = f"{PREPARE_JOB}:{period}", notice_key("mastodon.example")
    await _add(db, _job(JobState.done, 400 * DAY, prepare), _job(JobState.done, 400 * DAY, told))
    await prune_jobs(db, _retention())
    # When the close's end or the waiting-instance check asks for them again
    async with db.transaction() as session:
        again = [
            await enqueue(session, PREPARE_JOB, {}, dedupe_key=prepare),
            await enqueue(session, DELIVERY_JOB, {}, dedupe_key=told),
        ]
    # Then nothing is enqueued twice
    assert again == [None, None]
    assert await _keys(db) == {prepare, told}


async def test_the_running_slot_is_never_enqueued_again(db: Database, settings: Settings) -> None:
    # Given slots longer than the retention, and this slot's job done long ago
    every = 40 * DAY
    start = EPOCH + (utcnow() - EPOCH) // every * every
    calls: list[int] = []

    async def tick(_: JobContext, __: object) -> None:
        calls.append(1)

    worker = Worker(JobContext(db, settings), {"test.tick": Scheduled(tick, lambda _: every)})
    assert await worker.schedule_due(now=start + timedelta(minutes=1)) == 1
    async with db.transaction() as session:
        [row] = (await session.exec(select(Job))).all()
        row.state, row.finished_at = JobState.done, start + timedelta(minutes=2)
        row.run_after = start + timedelta(minutes=1)
        session.add(row)
    retention = {"test.tick": every}
    # When a prune runs 39 days into the slot
    late = start + 39 * DAY
    assert job_retention(DEFAULTS, retention, late).done == every
    await prune_jobs(db, job_retention(DEFAULTS, retention, late), now=late)
    # Then the slot's row stays, so a worker does not enqueue the slot again
    fresh = Worker(JobContext(db, settings), {"test.tick": Scheduled(tick, lambda _: every)})
    assert await fresh.schedule_due(now=late) == 0
    # And once the slot has ended, the row goes
    after = start + every + timedelta(minutes=3)
    assert (await prune_jobs(db, job_retention(DEFAULTS, retention, after), now=after)).done == 1


async def test_many_rows_go_in_chunks(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 2,500 old done rows and 40 old failed ones
    await _add(db, *(_job(JobState.done, 60 * DAY) for _ in range(2500)))
    await _add(db, *(_job(JobState.failed, 120 * DAY) for _ in range(40)))
    recent = await _add(db, _job(JobState.done, DAY))
    chunks: list[int] = []
    real_chunk = pruning._prune_chunk

    async def counted(
        db: Database, state: JobState, cutoff: datetime, retention: Retention, size: int
    ) -> int:
        deleted = await real_chunk(db, state, cutoff, retention, size)
        chunks.append(deleted)
        return deleted

    monkeypatch.setattr(pruning, "_prune_chunk", counted)
    # When a prune limited to 1,800 rows a call runs, in chunks of 1,000
    first = await prune_jobs(db, _retention(), chunk=1000, max_rows=1800)
    # Then it stopped at the limit, one transaction a chunk, and says more are left
    assert (first.done, first.failed, first.more) == (1800, 0, True)
    assert chunks == [1000, 800]
    # And the next call takes the rest
    second = await prune_jobs(db, _retention(), chunk=1000, max_rows=1800)
    assert (second.done, second.failed, second.more) == (700, 40, False)
    assert chunks[2:] == [700, 40]
    assert await _left(db) == set(recent)


async def test_two_prunes_at_once_delete_each_row_once(db: Database) -> None:
    await _add(db, *(_job(JobState.done, 60 * DAY) for _ in range(300)))
    reports = await asyncio.gather(
        prune_jobs(db, _retention(), chunk=50), prune_jobs(db, _retention(), chunk=50)
    )
    assert sum(report.done for report in reports) == 300
    assert await _left(db) == set()


async def test_housekeeping_prunes_and_reports_it(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given 60 days of hourly housekeeping rows, and a notices run one of them asked for
    now = utcnow()
    slots = [slot_key(HOUSEKEEPING_JOB, HOUR, now - n * HOUR) for n in range(1, 24 * 60)]
    started = [datetime.fromisoformat(key.split(":", 2)[2]) for key in slots]
    await _add(
        db,
        *(
            _job(JobState.done, now - at, key, HOUSEKEEPING_JOB)
            for key, at in zip(slots, started, strict=True)
        ),
    )
    async with db.transaction() as session:
        await queue_notices(session, slots[0])
    # When this slot's housekeeping runs
    with caplog.at_level(logging.INFO, logger="likewise.housekeeping"):
        report = await run_housekeeping(db, settings)
    # Then the rows of slots older than the retention went, the last 30 days' stayed
    kept = {key for key, at in zip(slots, started, strict=True) if now - at < 30 * DAY}
    assert len(kept) == 30 * 24 - 1
    assert report.pruned.done == len(slots) - len(kept)
    assert f"event=jobs_pruned done={report.pruned.done} failed=0 more=no" in caplog.text
    assert await _keys(db) == kept | {f"{CREATOR_NOTICES_JOB}:{slots[0]}"}


async def test_the_retention_is_the_instances_setting(db: Database, settings: Settings) -> None:
    # Given an instance keeping finished jobs 7 days and failed ones 14
    short = replace(settings, job_days=7, failed_job_days=14)
    done_old, failed_old = await _add(
        db, _job(JobState.done, 8 * DAY), _job(JobState.failed, 15 * DAY)
    )
    stay = await _add(db, _job(JobState.done, 6 * DAY), _job(JobState.failed, 13 * DAY))
    # When its housekeeping runs
    report = await run_housekeeping(db, short)
    # Then the rows past those ages went and the younger ones stayed
    assert (report.pruned.done, report.pruned.failed) == (1, 1)
    assert await _left(db) == set(stay)
    assert {done_old, failed_old}.isdisjoint(await _left(db))
