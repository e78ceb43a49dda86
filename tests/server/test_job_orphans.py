"""A worker killed mid-job: a worker starting on the same machine gives its running jobs
back to the queue at once, and touches nothing of a live worker or another machine."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from server.db.engine import Database
from server.jobs.handler import JobContext
from server.jobs.orphans import machine, new_worker_id, release_orphans
from server.jobs.queue import ClaimedJob, claim, enqueue
from server.jobs.worker import Worker
from server.models import Job
from server.settings import Settings


def _dead_pid() -> int:
    """The process id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def _claimed_by(db: Database, worker_id: str, kind: str) -> int:
    async with db.transaction() as session:
        job = await enqueue(session, kind, {})
        assert job is not None
        await session.flush()
        job_id = int(job.id or 0)
    (claimed,) = await claim(db, worker_id, [kind], lease=timedelta(minutes=5))
    assert claimed.id == job_id
    return job_id


async def _states(db: Database) -> dict[int, tuple[str, str | None]]:
    async with db.session() as session:
        jobs = (await session.exec(select(Job))).all()
        return {int(j.id or 0): (str(j.state), j.locked_by) for j in jobs}


async def test_only_a_dead_worker_of_this_machine_loses_its_jobs(db: Database) -> None:
    here = machine()
    dead = f"{here}:{_dead_pid()}:deadbeef"
    living = f"{here}:{os.getppid()}:0badcafe"  # pytest's parent: alive
    elsewhere = f"other-host-0123456789ab:{_dead_pid()}:12345678"
    garbled = f"{here}:not-a-pid:12345678"
    ids = {
        name: await _claimed_by(db, worker, f"test.{name}")
        for name, worker in [
            ("dead", dead),
            ("living", living),
            ("elsewhere", elsewhere),
            ("garbled", garbled),
        ]
    }
    me = new_worker_id()
    mine = await _claimed_by(db, me, "test.mine")

    assert await release_orphans(db, me) == 1

    states = await _states(db)
    assert states[ids["dead"]] == ("queued", "")
    assert states[ids["living"]] == ("running", living)
    assert states[ids["elsewhere"]] == ("running", elsewhere)
    assert states[ids["garbled"]] == ("running", garbled)
    assert states[mine] == ("running", me)
    # The released job is claimable at once, its killed attempt counted
    (again,) = await claim(db, me, ["test.dead"])
    assert (again.id, again.attempts) == (ids["dead"], 2)
    # A second start finds nothing more to release
    assert await release_orphans(db, new_worker_id()) == 0


async def test_a_starting_worker_runs_a_killed_workers_job_without_waiting(
    db: Database, tmp_path: Path
) -> None:
    ran: list[int] = []

    async def handler(context: JobContext, job: ClaimedJob) -> None:
        ran.append(job.id)

    job_id = await _claimed_by(db, f"{machine()}:{_dead_pid()}:deadbeef", "test.work")
    context = JobContext(db, Settings(data_dir=tmp_path))
    worker = Worker(context, {"test.work": handler})
    # The lease has minutes to run: without the release nothing is claimable
    assert await worker.run_once() == 0
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):
        if ran:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await running
    assert ran == [job_id]


def test_a_worker_id_fits_its_column_whatever_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "h" * 64)
    assert len(new_worker_id()) <= 64
    assert machine() != "h" * 30  # the digest tells apart hosts that share 30 characters
