"""What a job handler is given and may raise; domain handlers import this, not the worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx

from server.db.engine import Database
from server.jobs.queue import ClaimedJob
from server.settings import Settings


class RetryLater(Exception):
    """A handler asks to run again after a delay (e.g. a peer answered 429)."""

    def __init__(self, message: str, delay: timedelta | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class GiveUp(Exception):
    """A handler says retrying cannot help (e.g. a peer answered 410)."""


class NoHttpClient(RuntimeError):
    """A handler that makes requests ran in a worker given no HTTP client."""


@dataclass(frozen=True)
class JobContext:
    db: Database
    settings: Settings
    # The instance's outgoing client; None only for workers whose handlers make no requests.
    http_client: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self.http_client is None:
            raise NoHttpClient("this worker was given no HTTP client")
        return self.http_client


Handler = Callable[[JobContext, ClaimedJob], Awaitable[None]]


@dataclass(frozen=True)
class Scheduled:
    """A handler whose job the worker enqueues itself, once every `every(settings)`.

    Its job is skipped once its slot has passed (the current slot's job does the same
    work), waits while another job of its kind runs, and keeps its lease while it runs."""

    handler: Handler
    every: Callable[[Settings], timedelta]

    async def __call__(self, context: JobContext, job: ClaimedJob) -> None:
        await self.handler(context, job)
