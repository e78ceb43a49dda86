"""`likewise period …`: close a month."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from server.cli.common import cli_settings, console, data_option, fail, migrate_database, run_async
from server.db.engine import Database
from server.domain_errors import ServiceError
from server.donations.close import CloseReport


@click.group()
def period() -> None:
    """Monthly periods and their close."""


@period.command("close")
@data_option
@click.option("--period", "name", default=None, help="YYYY-MM; default the previous month.")
@click.option("--force", is_flag=True, help="Close the running month early.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Donors per transaction; default 5000 on SQLite, 10000 on PostgreSQL.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Batches settled at once; default 1 on SQLite, 2 on PostgreSQL.",
)
def period_close(
    data_dir: Path | None,
    name: str | None,
    force: bool,
    batch_size: int | None,
    workers: int | None,
) -> None:
    """Close a period: split each donor's budget over their clicks. Safe to rerun."""
    from server.donations.close import close_period
    from server.donations.periods import parse_period, period_of, previous_period
    from server.models.base import utcnow
    from server.money.amounts import format_money

    settings = cli_settings(data_dir)
    migrate_database(settings)
    try:
        chosen = parse_period(name) if name else previous_period(period_of(utcnow()))
    except ServiceError as exc:
        raise fail(exc.message) from exc

    async def work(db: Database) -> CloseReport:
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task(f"closing {chosen}", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = await close_period(
                db,
                settings,
                chosen,
                force=force,
                batch_size=batch_size,
                workers=workers,
                progress=advance,
            )
            bar.update(task, completed=report.donors_done, total=report.donors)
            return report

    report = run_async(settings, work)
    money = format_money(report.spent, settings)
    fees = format_money(report.fees, settings)
    click.echo(
        f"period {report.period}: {report.stage}; {report.donors_done}/{report.donors} donors, "
        f"{money} shared (fees {fees})"
    )
