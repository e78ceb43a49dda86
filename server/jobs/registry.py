"""The explicit table of job kinds and their handlers (no import-order magic)."""

from __future__ import annotations

from server.jobs.worker import Handler


def job_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    return handlers
