"""`likewise wallet …`: fund donors' wallets."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.common import cli_settings, data_option, fail, migrate_database, run_async
from server.db.engine import Database
from server.domain_errors import ServiceError


@click.group()
def wallet() -> None:
    """Donors' wallets."""


@wallet.command("credit")
@data_option
@click.argument("username")
@click.argument("amount")
@click.option("--reference", default="", help="Payment reference; a repeat credits once.")
def wallet_credit(data_dir: Path | None, username: str, amount: str, reference: str) -> None:
    """Credit AMOUNT (e.g. 10.00) to USERNAME's wallet from outside money."""
    from server.accounts.accounts import get_account
    from server.models import LedgerKind
    from server.money.amounts import format_money, parse_amount
    from server.money.funding import Funding, credit_wallet
    from server.money.ledger import Owner, balance_of

    settings = cli_settings(data_dir)
    migrate_database(settings)
    try:
        value = parse_amount(amount, settings)
    except ServiceError as exc:
        raise fail(exc.message) from exc

    async def work(db: Database) -> tuple[bool, int]:
        async with db.transaction() as session:
            account = await get_account(session, username)
            funding = Funding(int(account.id or 0), value, reference)
            _, created = await credit_wallet(session, settings, funding)
            owner = Owner(LedgerKind.donor_wallet, account_id=account.id)
            return created, await balance_of(session, settings, owner)

    created, balance = run_async(settings, work)
    shown = format_money(value, settings)
    total = format_money(balance, settings)
    if created:
        click.echo(f"credited {shown} to @{username}; wallet: {total}")
    else:
        click.echo(f"already credited (reference {reference!r}); wallet: {total}")
