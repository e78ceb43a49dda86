"""`likewise bank …`: bank transfers into donors' wallets from bank statements."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.common import cli_settings, data_option, fail, migrate_database, run_async
from server.db.engine import Database
from server.domain_errors import ServiceError
from server.models.money_in import BankCredit


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


@bank.command("waiting")
@data_option
def bank_waiting(data_dir: Path | None) -> None:
    """List the unmatched credits, oldest first, to assign or return."""
    from server.money.amounts import format_money
    from server.money.funding import statements

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def read(db: Database) -> list[BankCredit]:
        async with db.reading() as session:
            return await statements.waiting_credits(session)

    waiting = run_async(settings, read)
    for credit in waiting:
        payer = credit.debtor_name or "an unnamed payer"
        amount = format_money(credit.amount, settings)
        click.echo(
            f"{credit.id:>6}  {credit.booked_on}  {amount:>14}  {payer[:30]:<30}  "
            f"{credit.debtor_iban or '':<34}  {credit.reference[:40]}"
        )
    click.echo(f"{len(waiting)} unmatched credit(s)")


@bank.command("assign")
@data_option
@click.argument("credit_id", type=int)
@click.argument("username")
def bank_assign(data_dir: Path | None, credit_id: int, username: str) -> None:
    """Book the unmatched credit CREDIT_ID (see `bank waiting`) to USERNAME's wallet, once."""
    from server.donations import bank_admin
    from server.money.amounts import format_money

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def book(db: Database) -> bank_admin.Assigned:
        return await bank_admin.assign_credit(db, settings, credit_id, username, None)

    try:
        done = run_async(settings, book)
    except ServiceError as exc:
        raise fail(exc.message) from exc
    amount = format_money(done.credit.amount, settings)
    if done.created:
        click.echo(f"credit {credit_id}: {amount} booked to @{done.username}'s wallet")
    else:
        click.echo(f"credit {credit_id}: booked before; nothing booked now")


@bank.command("return")
@data_option
@click.argument("credit_id", type=int)
@click.option(
    "--sent",
    is_flag=True,
    help="Say that your bank has sent the money back to the payer (required).",
)
def bank_return(data_dir: Path | None, credit_id: int, sent: bool) -> None:
    """Mark the unmatched credit CREDIT_ID returned, once your bank has sent it back.
    Nothing is booked: an unmatched credit was never in any wallet."""
    from server.donations import bank_admin

    settings = cli_settings(data_dir)
    migrate_database(settings)
    if not sent:
        raise fail(
            f"credit {credit_id}: send the money back through your bank first, then run "
            "this again with --sent; nothing changed"
        )

    async def mark(db: Database) -> bank_admin.Returned:
        return await bank_admin.return_credit(db, credit_id, sent, None)

    try:
        done = run_async(settings, mark)
    except ServiceError as exc:
        raise fail(exc.message) from exc
    if done.created:
        click.echo(f"credit {credit_id}: marked returned; nothing was booked")
    else:
        click.echo(f"credit {credit_id}: returned before; nothing changed")
