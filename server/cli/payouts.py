"""`likewise payouts …` and `likewise escrow …`: money going out and money set aside."""

from __future__ import annotations

import sys
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
def payouts() -> None:
    """Creators' payouts."""


@payouts.command("list")
@data_option
@click.option("--state", default=None, help="requested, approved, in_flight, paid, rejected")
@json_option
def payouts_list(data_dir: Path | None, state: str | None, as_json: bool) -> None:
    """List payouts, newest first."""
    from server.money.amounts import format_amount
    from server.money.payouts import list_payouts

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> list[tuple[str, ...]]:
        async with db.session() as session:
            return [
                (
                    str(p.id),
                    str(p.account_id),
                    format_amount(p.amount, settings),
                    p.state,
                    p.name,
                    p.iban,
                    str(p.batch_id or ""),
                )
                for p in await list_payouts(session, state=state)
            ]

    rows = run_async(settings, work)
    if as_json:
        keys = ("id", "account", "amount", "state", "name", "iban", "batch")
        echo_json([dict(zip(keys, row, strict=True)) for row in rows])
        return
    table = Table("id", "account", settings.currency, "state", "name", "IBAN", "batch")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@payouts.command("approve")
@data_option
@click.argument("payout_id", type=int)
def payouts_approve(data_dir: Path | None, payout_id: int) -> None:
    """Approve a requested payout."""
    from server.money.payouts import approve_payout

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await approve_payout(session, payout_id)

    run_async(settings, work)
    click.echo(f"approved payout {payout_id}")


@payouts.command("reject")
@data_option
@click.argument("payout_id", type=int)
@click.option("--note", default="", help="Why, shown to the creator.")
def payouts_reject(data_dir: Path | None, payout_id: int, note: str) -> None:
    """Reject a payout; its amount returns to the creator's available balance."""
    from server.money.payouts import reject_payout

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await reject_payout(session, settings, payout_id, note)

    run_async(settings, work)
    click.echo(f"rejected payout {payout_id}")


@payouts.command("export")
@data_option
@click.option("--format", "fmt", type=click.Choice(["sepa"]), default="sepa", show_default=True)
@click.option(
    "--debtor-name", envvar="LIKEWISE_SEPA_NAME", required=True, help="Paying account holder."
)
@click.option("--debtor-iban", envvar="LIKEWISE_SEPA_IBAN", required=True, help="Paying IBAN.")
@click.option("--debtor-bic", envvar="LIKEWISE_SEPA_BIC", required=True, help="Paying BIC.")
def payouts_export(
    data_dir: Path | None, fmt: str, debtor_name: str, debtor_iban: str, debtor_bic: str
) -> None:
    """Write every approved payout as a pain.001.001.03 file to stdout; marks them in flight."""
    from server.money.payouts import Debtor, export_batch

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> tuple[int, str]:
        async with db.transaction() as session:
            batch = await export_batch(
                session, settings, Debtor(debtor_name, debtor_iban, debtor_bic)
            )
            return int(batch.id or 0), batch.document

    batch_id, document = run_async(settings, work)
    sys.stdout.write(document)
    click.echo(
        f"exported batch {batch_id}; run `likewise payouts confirm {batch_id}` once paid", err=True
    )


@payouts.command("confirm")
@data_option
@click.argument("batch_id", type=int)
def payouts_confirm(data_dir: Path | None, batch_id: int) -> None:
    """Book an exported batch as paid by the bank."""
    from server.money.payouts import confirm_batch

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await confirm_batch(session, settings, batch_id)

    run_async(settings, work)
    click.echo(f"batch {batch_id} booked as paid")


@click.group()
def escrow() -> None:
    """Shares set aside for creators who have not joined."""


@escrow.command("expire")
@data_option
def escrow_expire(data_dir: Path | None) -> None:
    """Return shares older than LIKEWISE_ESCROW_DAYS to their donors' wallets."""
    from server.escrow.escrow import expire_escrow
    from server.money.amounts import format_money

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> int:
        async with db.transaction() as session:
            return await expire_escrow(session, settings)

    returned = run_async(settings, work)
    click.echo(f"returned {format_money(returned, settings)} to donors")


@escrow.command("claim")
@data_option
@click.argument("identity_id", type=int)
@click.argument("username")
def escrow_claim(data_dir: Path | None, identity_id: int, username: str) -> None:
    """Record that USERNAME proved they own IDENTITY_ID; its escrow moves to them."""
    from server.accounts.accounts import get_account
    from server.escrow.escrow import claim_identity
    from server.money.amounts import format_money

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> int:
        async with db.transaction() as session:
            account = await get_account(session, username)
            claim = await claim_identity(
                session, settings, identity_id, int(account.id or 0), verified=True
            )
            return claim.moved

    moved = run_async(settings, work)
    click.echo(f"claimed; moved {format_money(moved, settings)} to @{username}")
