"""The `likewise` command: one entry point for admins, with --help on every subcommand.

Each domain keeps its commands in a module of this package; they are added below, by name.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from pathlib import Path

import click
from rich.table import Table

from server.cli import accounts, bank, claims, demo, ledger, notices, payouts, peers, period, wallet
from server.cli import imports as imports_cli
from server.cli.common import (
    cli_settings,
    configure_logging,
    console,
    data_option,
    fail,
    migrate_database,
    run_async,
    safe_url,
)
from server.db.engine import Database
from server.public_url import PUBLIC_URL_KEY
from server.settings import describe, read_config_file, record_public_url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Likewise: a federated microdonation server."""
    configure_logging()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {port} on {host} is already in use; pick another with --port"
            ) from exc
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@main.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Do not run background jobs in this process.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="Serve https.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS key file.")
def serve(
    data_dir: Path | None,
    host: str,
    port: int,
    no_worker: bool,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
) -> None:
    """Run the instance (web server and, unless --no-worker, the job worker)."""
    import uvicorn

    from server.app import create_app

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise fail("--ssl-certfile and --ssl-keyfile go together")
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = cli_settings(
        data_dir,
        tls=bool(ssl_certfile),
        run_worker=not no_worker,
        default_domain=f"{public_host}:{port}",
    )
    sock = _bind(host, port)
    migrate_database(settings)
    record_public_url(settings)  # first start: every later process mints ids from it
    users = run_async(settings, _count_accounts)
    config = uvicorn.Config(
        create_app(settings),
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    click.echo(f"Likewise is running at {settings.base_url}  (data: {settings.data_dir})")
    if users == 0:
        click.echo(
            "No accounts yet. Sign up in the browser, or create the first admin with:\n"
            f"  likewise users create YOURNAME --email you@example.org --admin "
            f"--data {settings.data_dir}"
        )
    uvicorn.Server(config).run(sockets=[sock])


async def _count_accounts(db: Database) -> int:
    from server.accounts.accounts import count_accounts

    async with db.session() as session:
        return await count_accounts(session)


@main.command()
@data_option
def migrate(data_dir: Path | None) -> None:
    """Create or upgrade the database schema."""
    settings = cli_settings(data_dir)
    migrate_database(settings)
    click.echo(f"database is up to date: {safe_url(settings)}")


@main.command()
@data_option
@click.option("--once", is_flag=True, help="Run every ready job, then exit.")
def worker(data_dir: Path | None, once: bool) -> None:
    """Run background jobs in this process (alongside `serve --no-worker`)."""
    from server.connections.jetstream import start_listener
    from server.http import build_http_client
    from server.jobs.worker import JobContext, Worker
    from server.registry import job_handlers

    settings = cli_settings(data_dir)
    migrate_database(settings)

    async def work(db: Database) -> int:
        async with build_http_client(settings) as http:
            runner = Worker(JobContext(db, settings, http), job_handlers())
            if once:
                await runner.schedule_due()  # housekeeping too: cron can run `worker --once`
                return await runner.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            listener = start_listener(db, settings, stop)  # Bluesky likes in seconds
            await asyncio.gather(runner.run_forever(stop), *([listener] if listener else []))
            return 0

    ran = run_async(settings, work)
    if once:
        click.echo(f"ran {ran} job(s)")


@main.group()
def config() -> None:
    """Inspect configuration."""


@config.command("show")
@data_option
def config_show(data_dir: Path | None) -> None:
    """Print the effective settings (secrets masked)."""
    settings = cli_settings(data_dir)
    table = Table("variable", "value", "meaning")
    for row in describe(settings):
        table.add_row(*row)
    console.print(table)
    console.print(f"data directory: {settings.data_dir}  (config file: config.toml)")
    recorded = read_config_file(settings.data_dir).get(PUBLIC_URL_KEY)
    console.print(f"public URL: {recorded or settings.base_url + '  (not recorded yet)'}")


main.add_command(accounts.users)
main.add_command(accounts.tokens)
main.add_command(ledger.ledger)
main.add_command(wallet.wallet)
main.add_command(bank.bank)
main.add_command(period.period)
main.add_command(payouts.payouts)
main.add_command(payouts.escrow)
main.add_command(peers.peers)
main.add_command(peers.settlements)
main.add_command(claims.claims)
main.add_command(notices.notices)
main.add_command(imports_cli.import_likes)
main.add_command(demo.demo)
