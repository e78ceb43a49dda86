"""`likewise import NETWORK FILE --user NAME`: a donor's data export read at once, its
preview printed, counted once confirmed (a prompt, or --yes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from server.cli.common import cli_settings, console, data_option, fail, migrate_database, run_async
from server.db.engine import Database
from server.models import ImportBatch, ImportState
from server.settings import Settings

POLL_SECONDS = 0.2


async def _read(db: Database, settings: Settings, batch: ImportBatch) -> ImportBatch:
    """Read the file while a progress bar follows the batch row."""
    from server.http import build_http_client
    from server.imports.direct import current, read_import
    from server.imports.pages import view

    async with build_http_client(settings) as http:
        reading = asyncio.ensure_future(read_import(db, settings, http, batch))
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("Reading", total=100)
            while not reading.done():
                await asyncio.wait({reading}, timeout=POLL_SECONDS)
                shown = view(await current(db, batch))
                bar.update(task, completed=shown.percent, description=shown.step)
        reading.result()
    return await current(db, batch)


def _preview(batch: ImportBatch) -> None:
    table = Table("", "likes", show_header=False)
    span = ""
    if batch.first_liked_at and batch.last_liked_at:
        span = f"{batch.first_liked_at:%Y-%m-%d} to {batch.last_liked_at:%Y-%m-%d}"
    for label, value in (
        ("found", batch.found),
        ("liked", span or "(no dates in the file)"),
        ("creators", batch.creators),
        ("in the open month: will count", batch.in_period),
        ("older: listed, not charged", batch.older),
        ("already imported before", batch.duplicates),
        ("creator unknown: waiting, not counted", batch.unresolved),
    ):
        table.add_row(label, str(value))
    console.print(table)
    for note in batch.notes.splitlines():
        console.print(note, markup=False)


def _agreed(batch: ImportBatch) -> bool:
    """The prompt's answer; no answer (the input closed, Ctrl-C) is a no."""
    try:
        return click.confirm(f"Count {batch.in_period} likes of the open month?")
    except click.Abort:
        return False


@click.command("import")
@data_option
@click.argument("network")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="The donor whose export this is.")
@click.option("--yes", is_flag=True, help="Count without asking.")
def import_likes(data_dir: Path | None, network: str, file: Path, username: str, yes: bool) -> None:
    """Import a donor's likes from NETWORK's data export FILE (a zip or the likes file;
    NETWORK auto detects it): print what it holds, then count the open month's likes."""
    from server.imports.batches import cancel, confirm
    from server.imports.direct import start_file_import

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def read(db: Database) -> ImportBatch:
        batch = await start_file_import(db, settings, username, network, file)
        return await _read(db, settings, batch)

    batch = run_async(settings, read)
    if batch.state != ImportState.previewed:
        raise fail(f"not imported: {batch.error or batch.state.value}")
    _preview(batch)
    batch_id = int(batch.id or 0)
    if not yes and not _agreed(batch):

        async def drop(db: Database) -> ImportBatch:
            return await cancel(db, batch.account_id, batch_id)

        run_async(settings, drop)
        click.echo("cancelled: nothing counted")
        return

    async def count(db: Database) -> ImportBatch:
        return await confirm(db, settings, batch.account_id, batch_id)

    done = run_async(settings, count)
    click.echo(f"counted {done.counted} likes (import {batch_id})")
