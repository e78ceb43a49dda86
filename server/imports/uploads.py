"""Storing an uploaded export and starting its import: the file is copied under the data
directory (within `MAX_UPLOAD_BYTES`), an `import_batch` row is written and its parse job
queued in the same transaction. Files are deleted once read (or refused), and when an
import is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.imports.formats import LABELS, known
from server.jobs.queue import enqueue
from server.models import ImportBatch
from server.settings import Settings

PARSE_JOB = "imports.parse"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # a whole data download zip; its parser checks members
CHUNK = 1024 * 1024
FOLDER = "imports"
SAFE = re.compile(r"[^A-Za-z0-9._ -]")


class TooLarge(ValidationFailed):
    code = "export_too_large"


def upload_folder(settings: Settings) -> Path:
    folder = settings.data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _copy(source: BinaryIO, target: Path, limit: int) -> int:
    """Copy in chunks; refuse (and delete what was written) past `limit` bytes."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > limit:
                break
            out.write(chunk)
    if written > limit:
        target.unlink(missing_ok=True)
        raise TooLarge(f"the file is larger than {limit // (1024 * 1024)} MiB", field="file")
    return written


def delete_upload(path: str) -> None:
    """Delete an upload and the folder of its own that holds it."""
    if path:
        with contextlib.suppress(OSError):
            Path(path).unlink(missing_ok=True)
            Path(path).parent.rmdir()


def _stored_name(name: str) -> str:
    """The upload's own name, made safe to store under (a parser may read a lone file's
    format from it): letters, digits, dots, dashes, spaces; never a path."""
    safe = SAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(". ")[-100:]
    return safe or "upload"


def _checked_network(network: str) -> str:
    network = network.strip().lower()
    if network in ("", "auto"):
        return ""
    if network not in LABELS or not known(network):
        raise ValidationFailed(f"unknown network {network[:40]!r}", field="network")
    return network


def _file_name(name: str) -> str:
    """The name as the donor's browser gave it, for display only (never a path here)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:255] or "upload"


async def store_upload(
    db: Database,
    settings: Settings,
    donor_id: int,
    network: str,
    file_name: str,
    source: BinaryIO,
    *,
    limit: int = MAX_UPLOAD_BYTES,
    queue: bool = True,
) -> ImportBatch:
    """Keep the uploaded file and queue its parse (`queue` False: the caller reads it at
    once, as the command line does); returns the new batch."""
    chosen = _checked_network(network)
    folder = upload_folder(settings) / uuid.uuid4().hex
    folder.mkdir()
    target = folder / _stored_name(file_name)
    try:
        size = await asyncio.to_thread(_copy, source, target, limit)
    except BaseException:
        delete_upload(str(target))
        raise
    if size == 0:
        delete_upload(str(target))
        raise ValidationFailed("the file is empty: choose the export file or zip", field="file")
    try:
        async with db.transaction() as session:
            batch = ImportBatch(
                account_id=donor_id,
                network=chosen,
                file_name=_file_name(file_name),
                upload_path=str(target),
                size_bytes=size,
                step="waiting",
            )
            session.add(batch)
            await session.flush()
            if queue:
                await enqueue(
                    session,
                    PARSE_JOB,
                    {"batch": batch.id},
                    dedupe_key=f"{PARSE_JOB}:{batch.id}",
                    max_attempts=3,
                )
    except BaseException:
        delete_upload(str(target))
        raise
    return batch
