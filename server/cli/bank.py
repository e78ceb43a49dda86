"""`likewise bank …`: bank transfers into donors' wallets from bank statements."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.common import cli_settings, data_option, fail, migrate_database, run_async
from server.db.engine import Database
from server.domain_errors import ServiceError


@click.group()
def bank() -> None:
    """Bank statements: credits to donors' wallets."""


@bank.command("import")
@data_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Book without asking after the preview.")
def bank_import(data_dir: Path | None, file: Path, yes: bool) -> None:
    """Preview the credits of FILE (camt.053, camt.054 or MT940), then book the matched ones."""
    from server.donations import bank_admin
    from server.money.amounts import format_money

    settings = cli_settings(data_dir)
    migrate_database(settings)
    upload = bank_admin.StatementFile(file.name, file.read_bytes(), None)

    async def read(db: Database) -> bank_admin.Preview:
        import_id = await bank_admin.import_statement(db, settings, upload)
        return await bank_admin.import_preview(db, import_id)

    try:
        shown = run_async(settings, read)
    except ServiceError as exc:
        raise fail(exc.message) from exc
    import_id = int(shown.batch.id or 0)
    for line in shown.lines:
        goes = (
            "already imported" if line.seen else (f"@{line.donor}" if line.donor else "unmatched")
        )
        if line.peer and not line.seen:
            goes = f"payment from {line.peer}"
        credit = line.credit
        amount = format_money(credit.amount, settings)
        click.echo(f"{credit.booked_on}  {amount:>14}  {credit.reference[:40]:<40}  {goes}")
    click.echo(f"import {import_id}: {len(shown.lines)} credit(s), {shown.matched} matched")
    if not yes and not click.confirm("Book the matched credits?", default=False):

        async def drop(db: Database) -> None:
            await bank_admin.cancel_import(db, import_id)

        run_async(settings, drop)
        click.echo("cancelled; nothing was booked")
        return

    async def book(db: Database) -> bank_admin.Confirmed:
        return await bank_admin.confirm_import(db, settings, import_id, None)

    done = run_async(settings, book)
    money = format_money(done.amount, settings)
    click.echo(
        f"booked {done.booked} credit(s), {money}; {done.unmatched} unmatched; "
        f"{done.duplicates} already imported"
        + (f"; {len(done.settled)} peer payment(s) confirmed" if done.settled else "")
    )
