"""The `likewise` command: one entry point for admins, with --help on every subcommand."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from server.db import Database, DatabaseURLError
from server.services.errors import ServiceError
from server.settings import ConfigError, Settings, describe, ensure_data_dir, load_settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


class CliError(click.ClickException):
    def show(self, file: Any = None) -> None:
        err_console.print(f"[bold red]error:[/] {self.format_message()}", highlight=False)


def _fail(message: str) -> CliError:
    return CliError(message)


data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LIKEWISE_DATA",
    default=None,
    help="Data directory (default ./data; env LIKEWISE_DATA).",
)


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    default_domain = overrides.pop("default_domain", None)
    try:
        settings = load_settings(data_dir, overrides=overrides, default_domain=default_domain)
        return ensure_data_dir(settings)
    except (ConfigError, DatabaseURLError) as exc:
        raise _fail(str(exc)) from exc


def _migrate(settings: Settings) -> None:
    from server.migrations import upgrade

    try:
        upgrade(settings.database_url)
    except DatabaseURLError as exc:
        raise _fail(str(exc)) from exc
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise _fail(f"cannot use the database {_safe_url(settings)}: {reason}") from exc


def _safe_url(settings: Settings) -> str:
    return dict((env, shown) for env, shown, _ in describe(settings))["LIKEWISE_DATABASE_URL"]


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        raise _fail(exc.message) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Likewise: a federated microdonation server."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise _fail(f"port {port} on {host} is already in use; pick another with --port") from exc
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
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
        raise _fail("--ssl-certfile and --ssl-keyfile go together")
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = _settings(
        data_dir,
        tls=bool(ssl_certfile),
        run_worker=not no_worker,
        default_domain=f"{public_host}:{port}",
    )
    sock = _bind(host, port)
    _migrate(settings)
    users = _run(settings, _count_accounts)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    click.echo(f"Likewise is running at {settings.base_url}  (data: {settings.data_dir})")
    if users == 0:
        click.echo(
            "No accounts yet. Sign up in the browser, or create the first admin with:\n"
            f"  likewise users create admin --email you@example.org --admin "
            f"--data {settings.data_dir}"
        )
    server.run(sockets=[sock])


async def _count_accounts(db: Database) -> int:
    from server.services.accounts import count_accounts

    async with db.session() as session:
        return await count_accounts(session)


@main.command()
@data_option
def migrate(data_dir: Path | None) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(data_dir)
    _migrate(settings)
    click.echo(f"database is up to date: {_safe_url(settings)}")


@main.command()
@data_option
@click.option("--once", is_flag=True, help="Run every ready job, then exit.")
def worker(data_dir: Path | None, once: bool) -> None:
    """Run background jobs in this process (alongside `serve --no-worker`)."""
    from server.http import build_http_client
    from server.jobs.registry import job_handlers
    from server.jobs.worker import JobContext, Worker

    settings = _settings(data_dir)
    _migrate(settings)

    async def work(db: Database) -> int:
        async with build_http_client(settings) as http:
            runner = Worker(JobContext(db, settings, {"http": http}), job_handlers())
            if once:
                return await runner.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await runner.run_forever(stop)
            return 0

    ran = _run(settings, work)
    if once:
        click.echo(f"ran {ran} job(s)")


@main.group()
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
def users_create(data_dir: Path | None, username: str, email: str, password: str, admin: bool) -> None:
    """Create an account (with its ActivityPub actor and keys)."""
    from server.services.accounts import NewAccount, create_account

    settings = _settings(data_dir)
    _migrate(settings)

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            account = await create_account(
                session, settings, NewAccount(username, email, password, is_admin=admin)
            )
            return account.username

    name = _run(settings, work)
    role = "admin" if admin else "user"
    click.echo(f"created {role} @{name}; log in at {settings.base_url}/login")


@users.command("list")
@data_option
def users_list(data_dir: Path | None) -> None:
    """List accounts."""
    from server.services.accounts import list_accounts

    settings = _settings(data_dir)
    _migrate(settings)

    async def work(db: Database) -> list[tuple[str, ...]]:
        async with db.session() as session:
            return [
                (str(a.id), a.username, a.email, "yes" if a.is_admin else "", f"{a.created_at:%Y-%m-%d}")
                for a in await list_accounts(session)
            ]

    table = Table("id", "username", "email", "admin", "created")
    for row in _run(settings, work):
        table.add_row(*row)
    console.print(table)


@main.group()
def tokens() -> None:
    """Personal access tokens for scripts and the API."""


@tokens.command("create")
@data_option
@click.argument("username")
@click.option("--scopes", default="read write", show_default=True, help="Space-separated scopes.")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def tokens_create(data_dir: Path | None, username: str, scopes: str, name: str) -> None:
    """Create a token and print it (shown once): use it as `Authorization: Bearer …`."""
    from server.services.accounts import get_account
    from server.services.tokens import create_token

    settings = _settings(data_dir)
    _migrate(settings)

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            account = await get_account(session, username)
            return await create_token(session, account, scopes, name)

    click.echo(_run(settings, work))


@main.group()
def config() -> None:
    """Inspect configuration."""


@config.command("show")
@data_option
def config_show(data_dir: Path | None) -> None:
    """Print the effective settings (secrets masked) and where they come from."""
    settings = _settings(data_dir)
    table = Table("variable", "value", "meaning")
    for row in describe(settings):
        table.add_row(*row)
    console.print(table)
    console.print(f"data directory: {settings.data_dir}  (config file: config.toml)")


if __name__ == "__main__":
    main()
