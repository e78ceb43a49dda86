"""Runs queued jobs: inside `serve`, in `likewise worker` processes, or once in tests."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping
from datetime import datetime, timedelta

from server.jobs.handler import GiveUp, Handler, JobContext, RetryLater, Scheduled
from server.jobs.orphans import new_worker_id, release_orphans
from server.jobs.queue import DEFAULT_LEASE, ClaimedJob, Clock, claim, complete, fail
from server.jobs.schedule import another_running, enqueue_slot, lease_kept, slot_key
from server.models.base import utcnow

log = logging.getLogger("likewise.worker")

__all__ = ["GiveUp", "Handler", "JobContext", "RetryLater", "Scheduled", "Worker"]


BUSY_RETRY = timedelta(minutes=1)


class Worker:
    def __init__(
        self,
        context: JobContext,
        handlers: Mapping[str, Handler],
        *,
        batch: int = 20,
        poll_interval: float = 1.0,
        lease: timedelta = DEFAULT_LEASE,
        now: Clock = utcnow,
    ) -> None:
        self.context = context
        self.now = now
        self.handlers = dict(handlers)
        self.scheduled = {k: h for k, h in self.handlers.items() if isinstance(h, Scheduled)}
        self.batch = batch
        self.poll_interval = poll_interval
        self.lease = lease
        self.slots: dict[str, str] = {}  # the last slot each scheduled kind was enqueued for
        self.worker_id = new_worker_id()
        # Set when a transaction that enqueued a job commits (the app hands `wakeup.set` to
        # its database as `on_commit_with_jobs`), so the loop need not wait for its poll.
        self.wakeup = asyncio.Event()

    async def run_once(self) -> int:
        """Claim and run one batch; returns how many jobs ran."""
        if not self.handlers:
            return 0
        jobs = await claim(
            self.context.db,
            self.worker_id,
            self.handlers,
            limit=self.batch,
            lease=self.lease,
            now=self.now,
        )
        for job in jobs:
            await self._run(job)
        return len(jobs)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Run until no job is ready (tests use this to be deterministic)."""
        total = 0
        for _ in range(max_rounds):
            ran = await self.run_once()
            if ran == 0:
                return total
            total += ran
        raise RuntimeError(f"queue still busy after {max_rounds} rounds")

    async def schedule_due(self, now: datetime | None = None) -> int:
        """Enqueue the current slot's job of each scheduled kind, unless this worker
        already did (or another did: the dedupe key); returns how many this call added."""
        added = 0
        for kind, scheduled in self.scheduled.items():
            key = slot_key(kind, scheduled.every(self.context.settings), now or self.now())
            if self.slots.get(kind) != key:
                added += await enqueue_slot(self.context.db, kind, key)
                self.slots[kind] = key
        return added

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("event=worker_start worker=%s kinds=%s", self.worker_id, ",".join(self.handlers))
        try:  # a worker of this machine killed mid-job: its jobs need not wait for the lease
            await release_orphans(self.context.db, self.worker_id)
        except Exception:
            log.exception("event=release_orphans_failed worker=%s", self.worker_id)
        while not stop.is_set():
            try:
                if self.scheduled:
                    await self.schedule_due()
                ran = await self.run_once()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("event=worker_claim_failed worker=%s", self.worker_id)
                ran = 0
            if ran:
                continue
            self.wakeup.clear()
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.wakeup.wait()),
            ]
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()

    async def _run(self, job: ClaimedJob) -> None:
        handler = self.handlers[job.kind]
        db = self.context.db
        try:
            if isinstance(handler, Scheduled):
                await self._run_scheduled(handler, job)
            else:
                await handler(self.context, job)
        except RetryLater as exc:
            await fail(db, job, self.worker_id, str(exc), retry_in=exc.delay, now=self.now)
        except GiveUp as exc:
            await fail(db, job, self.worker_id, str(exc), retry_in=timedelta.max, now=self.now)
        except Exception:  # top level of a worker: keep the traceback on the job row
            log.warning("event=job_failed id=%s kind=%s", job.id, job.kind, exc_info=True)
            await fail(db, job, self.worker_id, traceback.format_exc(), now=self.now)
        else:
            await complete(db, job, self.worker_id, now=self.now)

    async def _run_scheduled(self, scheduled: Scheduled, job: ClaimedJob) -> None:
        db, settings = self.context.db, self.context.settings
        if job.payload.get("slot") != slot_key(job.kind, scheduled.every(settings), self.now()):
            log.info("event=job_skipped id=%s kind=%s reason=slot_passed", job.id, job.kind)
            return
        if await another_running(db, job.id, job.kind):
            raise RetryLater(f"another {job.kind} job is still running", BUSY_RETRY)
        async with lease_kept(db, job.id, self.worker_id, self.lease):
            await scheduled(self.context, job)
