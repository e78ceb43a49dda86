"""Jobs a killed worker left running, released when a worker starts on the same machine.

A worker's id names its machine (host name and process-id namespace), its process id and
a random tag. A job is leased to one worker; if that worker's process is killed, the job
would wait for its lease (minutes) before another worker may claim it. A worker starting
on the same machine can tell for certain that the process is gone (process ids are only
comparable within one namespace, so workers of other machines or containers are never
judged), and gives those jobs back to the queue at once. The attempt the killed process
made still counts; handlers are idempotent, as for an expired lease.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable

from sqlalchemy import update
from sqlmodel import col, select

from server.db.engine import Database
from server.models import Job, JobState
from server.states import moving

log = logging.getLogger("likewise.jobs")

Alive = Callable[[int], bool]


def machine() -> str:
    """This host and its process-id namespace (Linux; the host alone elsewhere): the host
    name, cut short, and a digest of both, so that a worker id fits its 64-character column."""
    host = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        namespace = ""
    digest = hashlib.blake2b(f"{host}\n{namespace}".encode(), digest_size=6).hexdigest()
    return f"{host[:30]}-{digest}"


def new_worker_id() -> str:
    return f"{machine()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _dead_here(locked_by: str, here: str, own_pid: int, alive: Alive) -> bool:
    """Whether `locked_by` names a worker of this machine whose process is gone."""
    parts = locked_by.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != here or not parts[1].isascii() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    return pid != own_pid and not alive(pid)


async def release_orphans(db: Database, worker_id: str, *, alive: Alive = process_alive) -> int:
    """Give back to the queue the running jobs of this machine's dead workers; returns how
    many. `worker_id` is the starting worker's own (its jobs are never touched)."""
    here, own_pid = worker_id.rsplit(":", 2)[0], os.getpid()
    async with db.session() as session:
        found = await session.exec(
            select(Job.locked_by)
            .where(col(Job.state) == JobState.running, col(Job.locked_by).startswith(f"{here}:"))
            .distinct()
        )
        owners = [owner for owner in found.all() if owner and owner != worker_id]
    dead = [owner for owner in owners if _dead_here(owner, here, own_pid, alive)]
    released = 0
    for owner in dead:
        async with db.transaction() as session:
            result = await session.exec(
                update(Job)
                .where(col(Job.locked_by) == owner)
                .where(moving(col(Job.state), JobState.running, to=JobState.queued))
                .values(state=JobState.queued, locked_until=None, locked_by="")
            )
            released += int(result.rowcount or 0)
    if released:
        log.info("event=jobs_released count=%d workers=%s", released, ",".join(dead))
    return released
