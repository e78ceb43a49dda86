"""`likewise peers …` and `likewise settlements …`: settling with other instances."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Column, Table

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
from server.settings import Settings


def _money(value: int, settings: Settings) -> str:
    from server.money.amounts import format_money

    return format_money(value, settings)


def _net(net: int, notified: int, settings: Settings) -> str:
    """Who pays whom on balance, and a payment notified but not yet confirmed."""
    if not net:
        return "settled"
    shown = f"we pay {_money(net, settings)}" if net > 0 else f"they pay {_money(-net, settings)}"
    if notified:
        shown += f" (payment of {_money(notified, settings)} awaiting confirmation)"
    return shown


def _amount(text: str, settings: Settings, field: str) -> int:
    from server.domain_errors import ServiceError
    from server.money.amounts import parse_amount

    try:
        return parse_amount(text, settings, field=field)
    except ServiceError as exc:
        raise fail(f"{field}: {exc.message}") from exc


def _prepared(data_dir: Path | None) -> Settings:
    settings = cli_settings(data_dir)
    migrate_database(settings)
    return settings


@click.group()
def peers() -> None:
    """Instances this one settles microdonations with."""


@peers.command("add")
@data_option
@click.argument("domain")
@click.option("--credit-limit", default=None, help="Most either side may owe, e.g. 1000.00.")
def peers_add(data_dir: Path | None, domain: str, credit_limit: str | None) -> None:
    """Propose settling with DOMAIN (it must run Likewise in the same currency)."""
    from server.domain_errors import ServiceError
    from server.federation.remote import RemoteActors, build_client
    from server.http import build_http_client
    from server.settlement.peering import discover, normalize_domain, propose

    settings = _prepared(data_dir)
    try:
        domain = normalize_domain(settings, domain)
    except ServiceError as exc:
        raise fail(exc.message) from exc
    limit = settings.peer_credit_limit
    if credit_limit is not None:
        limit = _amount(credit_limit, settings, "credit limit")

    async def work(db: Database) -> str:
        async with build_http_client(settings) as http:
            client = build_client(settings, http)
            profile = await discover(RemoteActors(db, settings, client), client, settings, domain)
        peer = await propose(db, settings, profile, limit)
        return peer.state

    state = run_async(settings, work)
    click.echo(
        f"proposed settling with {domain} (credit limit {_money(limit, settings)}); "
        f"state {state}: the proposal is on its way, and {domain}'s admin accepts or rejects it"
    )


def _answer(data_dir: Path | None, domain: str, accept: bool) -> None:
    from server.settlement.peering import answer_proposal

    settings = _prepared(data_dir)

    async def work(db: Database) -> str:
        return (await answer_proposal(db, settings, domain.lower(), accept=accept)).state

    click.echo(f"{domain}: {run_async(settings, work)}")


@peers.command("accept")
@data_option
@click.argument("domain")
def peers_accept(data_dir: Path | None, domain: str) -> None:
    """Accept DOMAIN's proposal: settlement batches start flowing."""
    _answer(data_dir, domain, True)


@peers.command("reject")
@data_option
@click.argument("domain")
def peers_reject(data_dir: Path | None, domain: str) -> None:
    """Reject DOMAIN's proposal; shares for its creators stay in escrow."""
    _answer(data_dir, domain, False)


def _set_state(data_dir: Path | None, domain: str, state: str) -> None:
    from server.models import PeerState
    from server.settlement.peering import set_state

    settings = _prepared(data_dir)

    async def work(db: Database) -> str:
        return (await set_state(db, domain.lower(), PeerState(state))).state

    click.echo(f"{domain}: {run_async(settings, work)}")


@peers.command("suspend")
@data_option
@click.argument("domain")
def peers_suspend(data_dir: Path | None, domain: str) -> None:
    """Stop sending and accepting batches with DOMAIN (payments still settle)."""
    _set_state(data_dir, domain, "suspended")


@peers.command("resume")
@data_option
@click.argument("domain")
def peers_resume(data_dir: Path | None, domain: str) -> None:
    """Resume a suspended peer."""
    _set_state(data_dir, domain, "active")


@peers.command("end")
@data_option
@click.argument("domain")
def peers_end(data_dir: Path | None, domain: str) -> None:
    """End the agreement with DOMAIN."""
    _set_state(data_dir, domain, "ended")


@peers.command("list")
@data_option
@json_option
def peers_list(data_dir: Path | None, as_json: bool) -> None:
    """Every peer with its state, credit limit and open balance; then the instances money
    waits for without an active peering."""
    from server.settlement.peering import list_peers, waiting_instances

    settings = _prepared(data_dir)
    rows = run_async(settings, lambda db: list_peers(db, settings))
    if as_json:
        waiting_rows = run_async(settings, waiting_instances)
        echo_json(
            [
                {
                    "kind": "peer",
                    "domain": row.peer.domain,
                    "state": str(row.peer.state),
                    "proposed_by": str(row.peer.proposed_by),
                    "credit_limit": _money(row.peer.credit_limit, settings),
                    "we_owe": _money(row.we_owe, settings),
                    "they_owe": _money(row.they_owe, settings),
                    "net": _net(row.net, row.notified, settings),
                }
                for row in rows
            ]
            + [
                {
                    "kind": "waiting",
                    "domain": item.domain,
                    "creators": str(item.creators),
                    "held": _money(item.amount, settings),
                    "agreement": item.state or "none",
                }
                for item in waiting_rows
            ]
        )
        return
    table = Table("state", "proposed by", "credit limit", "we owe", "they owe", "net")
    widest = max((len(row.peer.domain) for row in rows), default=6)
    table.columns.insert(0, Column("domain", no_wrap=True, min_width=widest))
    for row in rows:
        table.add_row(
            row.peer.domain,
            row.peer.state,
            row.peer.proposed_by,
            _money(row.peer.credit_limit, settings),
            _money(row.we_owe, settings),
            _money(row.they_owe, settings),
            _net(row.net, row.notified, settings),
        )
    console.print(table)
    waiting = run_async(settings, waiting_instances)
    if waiting:
        table = Table("money waiting", "creators", "held", "agreement", title="No active peering")
        for item in waiting:
            table.add_row(
                item.domain, str(item.creators), _money(item.amount, settings), item.state or "none"
            )
        console.print(table)
        click.echo(
            "Shares for creators on these instances wait in escrow (and return to the donors "
            "when it expires): propose peering with `likewise peers add DOMAIN`."
        )


@peers.command("statement")
@data_option
@click.argument("domain")
def peers_statement(data_dir: Path | None, domain: str) -> None:
    """An account statement with DOMAIN: every batch and payment, with the running balance."""
    from server.settlement.statements import statement

    settings = _prepared(data_dir)
    result = run_async(settings, lambda db: statement(db, settings, domain.lower()))
    table = Table(
        "date", "entry", "state", "we owe them", "they owe us", "balance", title=result.title
    )
    for entry in result.entries:
        table.add_row(
            entry.when.strftime("%Y-%m-%d %H:%M"),
            entry.text,
            entry.state,
            _money(entry.we_owe, settings) if entry.we_owe else "",
            _money(entry.they_owe, settings) if entry.they_owe else "",
            _money(entry.balance, settings),
        )
    console.print(table)
    net = result.balance
    if net > 0:
        click.echo(f"open balance: this instance owes {domain} {_money(net, settings)}")
    elif net < 0:
        click.echo(f"open balance: {domain} owes this instance {_money(-net, settings)}")
    else:
        click.echo("open balance: settled")


@click.group()
def settlements() -> None:
    """Signed settlement batches and payments between peers."""


@settlements.command("list")
@data_option
@click.option("--peer", "domain", default=None, help="Only this peer.")
@json_option
def settlements_list(data_dir: Path | None, domain: str | None, as_json: bool) -> None:
    """Batches sent and received, newest first; overdue ones are flagged. Then payments."""
    from server.settlement.exchange import list_payments, list_settlements, overdue

    settings = _prepared(data_dir)
    rows = run_async(settings, lambda db: list_settlements(db, domain))
    if as_json:
        payment_rows = run_async(settings, lambda db: list_payments(db, domain))
        echo_json(
            [
                {
                    "kind": "batch",
                    "id": str(s.id),
                    "peer": peer.domain,
                    "dir": str(s.direction),
                    "period": s.period,
                    "seq": str(s.sequence),
                    "total": _money(s.total, settings),
                    "accepted": _money(s.accepted_total, settings),
                    "state": str(s.state),
                    "note": "no receipt yet: check the peer"
                    if overdue(settings, s)
                    else s.last_error[:60],
                }
                for s, peer in rows
            ]
            + [
                {
                    "kind": "payment",
                    "id": str(p.id),
                    "peer": peer.domain,
                    "dir": str(p.direction),
                    "amount": _money(p.amount, settings),
                    "reference": p.reference,
                    "state": str(p.state),
                }
                for p, peer in payment_rows
            ]
        )
        return
    table = Table("id", "dir", "period", "seq", "total", "accepted", "state", "note")
    widest = max((len(peer.domain) for _, peer in rows), default=4)
    table.columns.insert(1, Column("peer", no_wrap=True, min_width=widest))
    for s, peer in rows:
        note = "no receipt yet: check the peer" if overdue(settings, s) else s.last_error[:60]
        table.add_row(
            str(s.id),
            peer.domain,
            s.direction,
            s.period,
            str(s.sequence),
            _money(s.total, settings),
            _money(s.accepted_total, settings),
            s.state,
            note,
        )
    console.print(table)
    payments = run_async(settings, lambda db: list_payments(db, domain))
    if payments:
        table = Table("payment", "dir", "amount", "reference", "state")
        widest = max(len(peer.domain) for _, peer in payments)
        table.columns.insert(1, Column("peer", no_wrap=True, min_width=widest))
        for p, peer in payments:
            table.add_row(
                str(p.id),
                peer.domain,
                p.direction,
                _money(p.amount, settings),
                p.reference,
                p.state,
            )
        console.print(table)


@settlements.command("send")
@data_option
@click.option("--peer", "domain", default=None, help="Only this peer.")
def settlements_send(data_dir: Path | None, domain: str | None) -> None:
    """Offer active peers what is held for their creators now (the worker delivers)."""
    from server.federation.remote import RemoteActors, build_client
    from server.http import build_http_client
    from server.settlement.outgoing import prepare_batches
    from server.settlement.peering import find_peer

    settings = _prepared(data_dir)

    async def work(db: Database) -> list[tuple[str, int, int]]:
        peer_id = None
        if domain:
            async with db.session() as session:
                peer_id = (await find_peer(session, domain.lower())).id
        async with build_http_client(settings) as http:
            remote = RemoteActors(db, settings, build_client(settings, http))
            made = await prepare_batches(db, settings, remote, peer_id)
        return [(s.uri, s.sequence, s.total) for s in made]

    made = run_async(settings, work)
    for uri, sequence, total in made:
        click.echo(f"batch {sequence}: {_money(total, settings)} queued ({uri})")
    if not made:
        click.echo("nothing to send: no held shares for payable creators of an active peer")


@settlements.command("verify")
@data_option
@click.argument("settlement_id", type=ROW_ID)
def settlements_verify(data_dir: Path | None, settlement_id: int) -> None:
    """Re-check the stored batch and answer: proofs, digest and receipt lines."""
    from server.settlement.exchange import verify_settlement

    settings = _prepared(data_dir)
    result = run_async(settings, lambda db: verify_settlement(db, settings, settlement_id))
    for name, ok, detail in result.checks:
        click.echo(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not result.ok:
        raise fail(f"settlement {settlement_id} does not verify")
    click.echo(f"settlement {settlement_id} verifies ({len(result.checks)} checks)")


@settlements.command("mark-paid")
@data_option
@click.argument("domain")
@click.argument("amount")
@click.option("--reference", required=True, help="The bank transfer's reference.")
def settlements_mark_paid(data_dir: Path | None, domain: str, amount: str, reference: str) -> None:
    """Tell DOMAIN that AMOUNT (the open balance) was transferred; it confirms."""
    from server.settlement.payments import mark_paid

    settings = _prepared(data_dir)
    value = _amount(amount, settings, "amount")

    async def work(db: Database) -> int:
        return (await mark_paid(db, settings, domain.lower(), value, reference)).id or 0

    payment = run_async(settings, work)
    click.echo(f"payment {payment}: notice of {_money(value, settings)} sent to {domain}")


@settlements.command("confirm")
@data_option
@click.argument("payment_id", type=ROW_ID)
def settlements_confirm(data_dir: Path | None, payment_id: int) -> None:
    """Confirm a peer's payment notice: creators' pending funds become available."""
    from server.settlement.payments import confirm_payment

    settings = _prepared(data_dir)

    async def work(db: Database) -> tuple[int, str]:
        payment = await confirm_payment(db, settings, payment_id)
        return payment.amount, payment.reference

    value, reference = run_async(settings, work)
    click.echo(f"payment {payment_id} confirmed: {_money(value, settings)} ({reference})")


@settlements.command("refuse")
@data_option
@click.argument("payment_id", type=ROW_ID)
@click.option("--reason", default="the transfer has not arrived", help="Told to the peer.")
def settlements_refuse(data_dir: Path | None, payment_id: int, reason: str) -> None:
    """Refuse a peer's payment notice (the money did not arrive)."""
    from server.settlement.payments import refuse_payment

    settings = _prepared(data_dir)

    async def work(db: Database) -> str:
        return (await refuse_payment(db, settings, payment_id, reason)).state

    click.echo(f"payment {payment_id}: {run_async(settings, work)}")
