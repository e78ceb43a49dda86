"""`likewise notices …`: the monthly messages to unclaimed fediverse creators."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from server.cli.common import (
    cli_settings,
    console,
    data_option,
    echo_json,
    json_option,
    migrate_database,
    run_async,
)
from server.db.engine import Database


@click.group()
def notices() -> None:
    """Messages telling unclaimed fediverse creators what waits for them."""


@notices.command("list")
@data_option
@click.option("--month", default=None, help="YYYY-MM; default every month.")
@json_option
def notices_list(data_dir: Path | None, month: str | None, as_json: bool) -> None:
    """The notices sent (or skipped: the actor was gone), newest first."""
    from server.escrow.notices import date_text, list_notices
    from server.money.amounts import format_amount

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> list[tuple[str, ...]]:
        async with db.session() as session:
            return [
                (
                    notice.month,
                    notice.creator_uri,
                    notice.state,
                    format_amount(notice.amount, settings),
                    str(notice.supporters),
                    date_text(notice.returns_at) if notice.returns_at else "",
                )
                for notice in await list_notices(session, month)
            ]

    rows = run_async(settings, work)
    if as_json:
        keys = ("month", "creator", "state", "amount", "supporters", "returns_on")
        echo_json([dict(zip(keys, row, strict=True)) for row in rows])
        return
    table = Table("month", "creator", "state", settings.currency, "supporters", "returns on")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@notices.command("opt-outs")
@data_option
@json_option
def notices_opt_outs(data_dir: Path | None, as_json: bool) -> None:
    """Actors who asked for no more notices (a "stop" reply, or a block of the instance)."""
    from server.escrow.opt_outs import list_opt_outs

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> list[tuple[str, ...]]:
        async with db.session() as session:
            return [
                (row.actor_uri, row.via, f"{row.created_at:%Y-%m-%d %H:%M}")
                for row in await list_opt_outs(session)
            ]

    rows = run_async(settings, work)
    if as_json:
        echo_json([dict(zip(("actor", "via", "since"), row, strict=True)) for row in rows])
        return
    if not rows:
        click.echo("nobody has opted out")
        return
    table = Table("actor", "via", "since (UTC)")
    for row in rows:
        table.add_row(*row)
    console.print(table)
