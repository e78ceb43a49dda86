"""The import forms as one service call each: the action, or its refusal with the page that
shows it (`server.domain_errors.Outcome`)."""

from __future__ import annotations

from typing import BinaryIO

from server.db.engine import Database
from server.domain_errors import Outcome, attempt
from server.imports import batches, uploads
from server.imports.pages import BatchView, ImportsPage, batch_page, imports_page
from server.models import ImportBatch
from server.settings import Settings


async def upload(
    db: Database,
    settings: Settings,
    donor_id: int,
    network: str,
    file_name: str,
    source: BinaryIO,
) -> Outcome[ImportBatch, ImportsPage]:
    return await attempt(
        uploads.store_upload(db, settings, donor_id, network, file_name, source),
        lambda: imports_page(db, donor_id),
    )


async def confirm(
    db: Database, settings: Settings, donor_id: int, batch_id: int
) -> Outcome[ImportBatch, BatchView]:
    return await attempt(
        batches.confirm(db, settings, donor_id, batch_id),
        lambda: batch_page(db, donor_id, batch_id),
    )


async def cancel(db: Database, donor_id: int, batch_id: int) -> Outcome[ImportBatch, BatchView]:
    return await attempt(
        batches.cancel(db, donor_id, batch_id), lambda: batch_page(db, donor_id, batch_id)
    )
