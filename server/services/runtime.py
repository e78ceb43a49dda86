"""Per-app federation machinery, made on first use (no work at import or app creation)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import State

from server.services.inbox import InboxBatcher
from server.services.remote import RemoteActors, build_client


@dataclass
class Federation:
    remote: RemoteActors
    batcher: InboxBatcher


def federation(state: State) -> Federation:
    existing = getattr(state, "federation", None)
    if isinstance(existing, Federation):
        return existing
    client = build_client(state.settings, state.http)
    worker = getattr(state, "worker", None)
    runtime = Federation(
        remote=RemoteActors(state.db, state.settings, client),
        batcher=InboxBatcher(state.db, worker.wakeup if worker is not None else None),
    )
    state.federation = runtime
    return runtime
