"""An import run at once, outside the worker: what `likewise import` does for an admin who
holds a donor's export file. The same rows, checks and click contract as an upload."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.accounts.accounts import get_account
from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.imports.batches import batch_of
from server.imports.parsing import parse_batch
from server.imports.uploads import store_upload
from server.jobs.handler import JobContext
from server.models import ImportBatch
from server.settings import Settings


async def start_file_import(
    db: Database, settings: Settings, username: str, network: str, path: Path
) -> ImportBatch:
    """Copy the file in as an upload of the donor named `username`; its parse is not queued."""
    async with db.session() as session:
        donor = await get_account(session, username)
    try:
        source = path.open("rb")
    except OSError as error:
        raise ValidationFailed(f"cannot read {path}: {error.strerror}") from error
    with source:
        return await store_upload(
            db, settings, int(donor.id or 0), network, path.name, source, queue=False
        )


async def read_import(
    db: Database, settings: Settings, http: httpx.AsyncClient, batch: ImportBatch
) -> None:
    """Read the file to its preview, as the `imports.parse` job would."""
    await parse_batch(JobContext(db, settings, http), int(batch.id or 0))


async def current(db: Database, batch: ImportBatch) -> ImportBatch:
    async with db.session() as session:
        return await batch_of(session, batch.account_id, int(batch.id or 0))
