"""`likewise users …` and `likewise tokens …`."""

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
from server.settings import record_public_url


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@data_option
@click.argument("username")
@click.option("--email", required=True, help="The account's e-mail address.")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted if absent."
)
@click.option("--admin", is_flag=True, help="Make the account an instance admin.")
def users_create(
    data_dir: Path | None, username: str, email: str, password: str, admin: bool
) -> None:
    """Create an account (with its ActivityPub actor and keys)."""
    from server.accounts.accounts import NewAccount, create_account
    from server.escrow.claims import claim_own_identities
    from server.money.amounts import format_money

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> tuple[str, int]:
        async with db.transaction() as session:
            account = await create_account(
                session, settings, NewAccount(username, email, password, is_admin=admin)
            )
            claims = await claim_own_identities(session, settings, int(account.id or 0))
            return account.username, sum(claim.moved for claim in claims)

    name, moved = run_async(settings, work)
    # Its actor's ids are minted now: later processes must mint from the same base URL.
    record_public_url(settings)
    role = "admin" if admin else "user"
    click.echo(f"created {role} @{name}; log in at {settings.base_url}/login")
    if moved:
        money = format_money(moved, settings)
        click.echo(f"@{name} received {money} supporters had set aside before the account existed")


@users.command("list")
@data_option
@json_option
def users_list(data_dir: Path | None, as_json: bool) -> None:
    """List accounts."""
    from server.accounts.accounts import list_accounts

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> list[tuple[str, ...]]:
        async with db.session() as session:
            return [
                (
                    str(a.id),
                    a.username,
                    a.email,
                    "yes" if a.is_admin else "",
                    f"{a.created_at:%Y-%m-%d}",
                )
                for a in await list_accounts(session)
            ]

    rows = run_async(settings, work)
    if as_json:
        keys = ("id", "username", "email", "admin", "created")
        echo_json([dict(zip(keys, row, strict=True)) for row in rows])
        return
    table = Table("id", "username", "email", "admin", "created")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@users.command("password")
@data_option
@click.argument("username")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted if absent."
)
def users_password(data_dir: Path | None, username: str, password: str) -> None:
    """Set an account's password; every browser session of the account ends."""
    from server.accounts.accounts import get_account, set_password

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> tuple[str, int]:
        async with db.transaction() as session:
            account = await get_account(session, username)
            return account.username, await set_password(session, account, password)

    name, ended = run_async(settings, work)
    click.echo(f"new password for @{name}; {ended} session(s) ended")


def _suspend(data_dir: Path | None, username: str, suspended: bool) -> None:
    from server.accounts.accounts import set_suspended

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            return (await set_suspended(session, username, suspended)).username

    name = run_async(settings, work)
    click.echo(f"@{name} is {'suspended' if suspended else 'reinstated'}")


@users.command("suspend")
@data_option
@click.argument("username")
def users_suspend(data_dir: Path | None, username: str) -> None:
    """Suspend an account (no log-in; peers' payments for it are refused)."""
    _suspend(data_dir, username, True)


@users.command("unsuspend")
@data_option
@click.argument("username")
def users_unsuspend(data_dir: Path | None, username: str) -> None:
    """Reinstate a suspended account."""
    _suspend(data_dir, username, False)


@click.group()
def tokens() -> None:
    """Personal access tokens for scripts and the API."""


@tokens.command("create")
@data_option
@click.argument("username")
@click.option("--scopes", default="read write", show_default=True, help="Space-separated scopes.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def tokens_create(data_dir: Path | None, username: str, scopes: str, name: str) -> None:
    """Create a token and print it (shown once): use it as `Authorization: Bearer …`."""
    from server.accounts.accounts import get_account
    from server.accounts.tokens import create_token

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            account = await get_account(session, username)
            return await create_token(session, account, scopes, name)

    click.echo(run_async(settings, work))
