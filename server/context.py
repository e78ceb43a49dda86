"""What an app carries, typed: one `AppContext` stored on app.state, read with `context()`.

The settings, metrics and templates exist from app creation; the database, the outgoing
HTTP client and the worker from startup (the lifespan) until shutdown; the federation
machinery (remote actors and the inbox batcher) is made on first use. Nothing here does
work at import or app creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from server.accounts.password_reset import AskWindow
from server.federation.inbox import InboxBatcher
from server.federation.remote import RemoteActors, build_client
from server.settings import Settings

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette
    from starlette.templating import Jinja2Templates

    from server.db.engine import Database
    from server.jobs.worker import Worker
    from server.middleware import Metrics

BUCKET_SECONDS = 1.0


class NotStarted(RuntimeError):
    """The app's database, HTTP client or worker was asked for before startup."""


@dataclass
class Federation:
    remote: RemoteActors
    batcher: InboxBatcher


@dataclass
class Running:
    """What the lifespan makes at startup and closes at shutdown."""

    db: Database
    http: httpx.AsyncClient
    worker: Worker


class AppContext:
    def __init__(self, settings: Settings, metrics: Metrics, templates: Jinja2Templates) -> None:
        self.settings = settings
        self.metrics = metrics
        self.templates = templates
        self._running: Running | None = None
        self._federation: Federation | None = None
        # How often each client address asked for a password reset link (in memory).
        self.reset_asks = AskWindow()

    def start(self, db: Database, http: httpx.AsyncClient, worker: Worker) -> None:
        self._running = Running(db, http, worker)
        self._federation = None

    def _started(self) -> Running:
        if self._running is None:
            raise NotStarted("the app has not started (its lifespan has not run)")
        return self._running

    @property
    def db(self) -> Database:
        return self._started().db

    @db.setter
    def db(self, db: Database) -> None:
        self._started().db = db
        self._federation = None

    @property
    def http(self) -> httpx.AsyncClient:
        return self._started().http

    @http.setter
    def http(self, http: httpx.AsyncClient) -> None:
        self._started().http = http
        self._federation = None

    @property
    def worker(self) -> Worker:
        return self._started().worker

    @property
    def federation(self) -> Federation:
        """Remote actors and the inbox batcher, made on first use."""
        if self._federation is None:
            running, settings = self._started(), self.settings
            self._federation = Federation(
                remote=RemoteActors(running.db, settings, build_client(settings, running.http)),
                batcher=InboxBatcher(running.db, bucket_seconds=_bucket(settings)),
            )
        return self._federation


def context(source: HTTPConnection | Starlette) -> AppContext:
    """The AppContext of a request's (or websocket's) app, or of an app."""
    app = source.app if isinstance(source, HTTPConnection) else source
    found = app.state.context
    if not isinstance(found, AppContext):
        raise TypeError("app.state.context is not an AppContext")
    return found


def _bucket(settings: Settings) -> float:
    """SQLite with the worker in this process: one processing job per second."""
    return BUCKET_SECONDS if settings.is_sqlite and settings.run_worker else 0.0
