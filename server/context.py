"""Per-app federation machinery, made on first use (no work at import or app creation)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import State

from server.federation.inbox import InboxBatcher
from server.federation.remote import RemoteActors, build_client
from server.settings import Settings

BUCKET_SECONDS = 1.0


@dataclass
class Federation:
    remote: RemoteActors
    batcher: InboxBatcher


def federation(state: State) -> Federation:
    existing = getattr(state, "federation", None)
    if isinstance(existing, Federation):
        return existing
    client = build_client(state.settings, state.http)
    runtime = Federation(
        remote=RemoteActors(state.db, state.settings, client),
        batcher=InboxBatcher(state.db, bucket_seconds=_bucket(state.settings)),
    )
    state.federation = runtime
    return runtime


def _bucket(settings: Settings) -> float:
    """SQLite with the worker in this process: one processing job per second."""
    return BUCKET_SECONDS if settings.is_sqlite and settings.run_worker else 0.0
