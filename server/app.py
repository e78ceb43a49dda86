"""create_app(settings) builds the whole instance; nothing runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator, Mapping

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware

from server.accounts.actors import INSTANCE_ACTOR_PATH, ensure_instance_actor
from server.auth import AuthBackend, on_auth_error
from server.connections.jetstream import start_listener
from server.context import AppContext
from server.db.engine import Database
from server.errors import EXCEPTION_HANDLERS
from server.http import build_http_client
from server.jobs.worker import Handler, JobContext, Worker
from server.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    CorsMiddleware,
    DirectRoutes,
    Metrics,
    NulRefusal,
)
from server.registry import job_handlers
from server.routes import all_routes
from server.routes.activitypub import inbox_routes
from server.routes.api.hot import hot_first
from server.routes.api.media import FORM_OVERHEAD, UPLOAD_PATHS
from server.routes.imports import UPLOAD_LIMIT as IMPORT_UPLOAD_LIMIT
from server.routes.imports import UPLOAD_PATH as IMPORT_UPLOAD_PATH
from server.settings import Settings
from server.templating import build_templates

YOUNG_GENERATION_THRESHOLD = 10_000


@contextlib.contextmanager
def _collector_tuned() -> Iterator[None]:
    """Under load the cyclic collector cost ~30 µs a request and paused up to ~0.2 s.

    What startup built lives as long as the app, so it is frozen out of the collector's
    walks; and young objects are collected less often, so the objects of requests in flight
    are rarely promoted (every promotion brings the next full collection closer).
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def create_app(settings: Settings, *, handlers: Mapping[str, Handler] | None = None) -> Starlette:
    """The instance as an ASGI app. The database must already be migrated."""
    if not settings.secret_key:
        raise ValueError("settings.secret_key is empty; call ensure_data_dir first")
    metrics = Metrics()
    context = AppContext(settings, metrics, build_templates(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        http = build_http_client(settings)
        async with db.transaction() as session:
            await ensure_instance_actor(session, settings)
        jobs = JobContext(db=db, settings=settings, http_client=http)
        worker = Worker(jobs, handlers if handlers is not None else job_handlers())
        context.start(db, http, worker)
        stop = asyncio.Event()
        tasks = []
        if settings.run_worker:
            db.on_commit_with_jobs = worker.wakeup.set  # a commit that queued a job wakes it
            tasks.append(asyncio.create_task(worker.run_forever(stop)))
            listener = start_listener(db, settings, stop)  # Bluesky likes in seconds
            if listener is not None:
                tasks.append(listener)
        try:
            with _collector_tuned():
                yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await http.aclose()
            await db.dispose()

    app = Starlette(
        routes=hot_first(all_routes()),  # the client API's hottest first
        middleware=[
            Middleware(AccessLogMiddleware, metrics=metrics),
            Middleware(CorsMiddleware),
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.max_body_bytes,
                # Settlement batches to the instance inbox run to megabytes.
                larger={
                    INSTANCE_ACTOR_PATH + "/inbox": settings.settlement_max_body_bytes,
                    **dict.fromkeys(UPLOAD_PATHS, settings.media_max_bytes + FORM_OVERHEAD),
                    IMPORT_UPLOAD_PATH: IMPORT_UPLOAD_LIMIT,  # a data export, streamed to disk
                },
            ),
            Middleware(NulRefusal),  # a NUL in an address: a 400 before any route reads it
            Middleware(DirectRoutes, routes=inbox_routes),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                session_cookie="likewise_session",
                https_only=settings.scheme == "https",
                same_site="lax",
            ),
            Middleware(AuthenticationMiddleware, backend=AuthBackend(), on_error=on_auth_error),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.context = context
    return app
