"""Runs queued jobs: inside `serve`, in `likewise worker` processes, or once in tests."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.db.engine import Database
from server.jobs.queue import DEFAULT_LEASE, ClaimedJob, claim, complete, fail
from server.jobs.schedule import another_running, enqueue_slot, lease_kept, slot_key
from server.models.base import utcnow
from server.settings import Settings

log = logging.getLogger("likewise.worker")


class RetryLater(Exception):
    """A handler asks to run again after a delay (e.g. a peer answered 429)."""

    def __init__(self, message: str, delay: timedelta | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class GiveUp(Exception):
    """A handler says retrying cannot help (e.g. a peer answered 410)."""


@dataclass(frozen=True)
class JobContext:
    db: Database
    settings: Settings
    services: Mapping[str, Any]


Handler = Callable[[JobContext, ClaimedJob], Awaitable[None]]
BUSY_RETRY = timedelta(minutes=1)


@dataclass(frozen=True)
class Scheduled:
    """A handler whose job the worker enqueues itself, once every `every(settings)`.

    Its job is skipped once its slot has passed (the current slot's job does the same
    work), waits while another job of its kind runs, and keeps its lease while it runs."""

    handler: Handler
    every: Callable[[Settings], timedelta]

    async def __call__(self, context: JobContext, job: ClaimedJob) -> None:
        await self.handler(context, job)


class Worker:
    def __init__(
        self,
        context: JobContext,
        handlers: Mapping[str, Handler],
        *,
        batch: int = 20,
        poll_interval: float = 1.0,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.context = context
        self.handlers = dict(handlers)
        self.scheduled = {k: h for k, h in self.handlers.items() if isinstance(h, Scheduled)}
        self.batch = batch
        self.poll_interval = poll_interval
        self.lease = lease
        self.slots: dict[str, str] = {}  # the last slot each scheduled kind was enqueued for
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wakeup = asyncio.Event()

    async def run_once(self) -> int:
        """Claim and run one batch; returns how many jobs ran."""
        if not self.handlers:
            return 0
        jobs = await claim(
            self.context.db, self.worker_id, self.handlers, limit=self.batch, lease=self.lease
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
            key = slot_key(kind, scheduled.every(self.context.settings), now or utcnow())
            if self.slots.get(kind) != key:
                added += await enqueue_slot(self.context.db, kind, key)
                self.slots[kind] = key
        return added

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("event=worker_start worker=%s kinds=%s", self.worker_id, ",".join(self.handlers))
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
            await fail(db, job, self.worker_id, str(exc), retry_in=exc.delay)
        except GiveUp as exc:
            await fail(db, job, self.worker_id, str(exc), retry_in=timedelta.max)
        except Exception:  # top level of a worker: keep the traceback on the job row
            log.warning("event=job_failed id=%s kind=%s", job.id, job.kind, exc_info=True)
            await fail(db, job, self.worker_id, traceback.format_exc())
        else:
            await complete(db, job, self.worker_id)

    async def _run_scheduled(self, scheduled: Scheduled, job: ClaimedJob) -> None:
        db, settings = self.context.db, self.context.settings
        if job.payload.get("slot") != slot_key(job.kind, scheduled.every(settings), utcnow()):
            log.info("event=job_skipped id=%s kind=%s reason=slot_passed", job.id, job.kind)
            return
        if await another_running(db, job.id, job.kind):
            raise RetryLater(f"another {job.kind} job is still running", BUSY_RETRY)
        async with lease_kept(db, job.id, self.worker_id, self.lease):
            await scheduled(self.context, job)
