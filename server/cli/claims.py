"""`likewise claims …`: identities that creators on peer instances claim (and ours that we
announced to peers), and the admin's decision on a contested one."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from server.cli.common import (
    cli_settings,
    console,
    data_option,
    echo_json,
    fail,
    json_option,
    migrate_database,
    run_async,
)
from server.cli.params import ROW_ID
from server.db.engine import Database


@click.group()
def claims() -> None:
    """Identities claimed through peer instances."""


@claims.command("list")
@data_option
@json_option
def claims_list(data_dir: Path | None, as_json: bool) -> None:
    """Every claim a peer announced here ("in") and ours announced to peers ("out"),
    contested first."""
    from server.escrow.peer_claims import list_claims

    settings = cli_settings(data_dir)
    migrate_database(settings)
    found = run_async(settings, list_claims)
    rows = [
        {
            "id": str(claim.id),
            "dir": claim.direction,
            "peer": claim.peer_domain,
            "network": identity.network,
            "identity": identity.handle or identity.external_id,
            "external_id": identity.external_id,
            "claimant": claim.actor_uri,
            "method": claim.method,
            "state": str(claim.state),
            "summary": claim.summary,
        }
        for claim, identity in found
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No claims from or to peers.")
        return
    table = Table("id", "dir", "peer", "network", "identity", "claimant", "method", "state")
    for row in rows:
        table.add_row(
            *(row[key] for key in ("id", "dir", "peer", "network", "identity")),
            row["claimant"],
            row["method"],
            row["state"],
        )
    console.print(table)


def _decide(data_dir: Path | None, claim_id: int, accept: bool) -> None:
    from server.domain_errors import ServiceError
    from server.escrow.peer_claims import decide_claim

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> str:
        return str((await decide_claim(db, settings, claim_id, accept=accept)).state)

    try:
        state = run_async(settings, work)
    except ServiceError as exc:
        raise fail(exc.message) from exc
    click.echo(f"claim {claim_id}: {state}")


@claims.command("accept")
@data_option
@click.argument("claim_id", type=ROW_ID)
def claims_accept(data_dir: Path | None, claim_id: int) -> None:
    """Let a peer's contested claim hold: what waits for the identity goes to that peer,
    and every rival peer claim is refused."""
    _decide(data_dir, claim_id, True)


@claims.command("refuse")
@data_option
@click.argument("claim_id", type=ROW_ID)
def claims_refuse(data_dir: Path | None, claim_id: int) -> None:
    """Refuse a peer's claim: what it held goes back to escrow here."""
    _decide(data_dir, claim_id, False)
