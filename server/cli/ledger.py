"""`likewise ledger …`: check the books."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from server.cli.common import cli_settings, console, data_option, migrate_database, run_async
from server.db.engine import Database
from server.money.audit import Audit


@click.group()
def ledger() -> None:
    """The double-entry ledger."""


@ledger.command("check")
@data_option
def ledger_check(data_dir: Path | None) -> None:
    """Recompute every balance and check the invariants; exit 1 if one fails."""
    from server.money.audit import check_ledger

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> Audit:
        async with db.session() as session:
            return await check_ledger(session)

    audit = run_async(settings, work)
    summary = (
        f"{audit.accounts} ledger accounts, {audit.transfers} transfers, "
        f"{audit.periods_checked} closed period(s)"
    )
    if audit.ok:
        console.print(f"ledger OK: {summary}")
        return
    console.print(f"[red]ledger check FAILED[/red] ({summary}):")
    for problem in audit.problems:
        console.print(f"  - {problem}", markup=False)
    sys.exit(1)
