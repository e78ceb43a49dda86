"""What every `likewise` subcommand shares: settings, migrations, running async work."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from sqlalchemy.exc import DBAPIError, OperationalError

from server.db.engine import Database, DatabaseURLError
from server.domain_errors import ServiceError
from server.settings import ConfigError, Settings, describe, ensure_data_dir, load_settings

T = TypeVar("T")
console = Console()


class CliError(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"error: {' '.join(self.format_message().split())}", err=True)


def fail(message: str) -> CliError:
    return CliError(message)


data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LIKEWISE_DATA",
    default=None,
    help="Data directory (default ./data; env LIKEWISE_DATA).",
)


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of objects, one key per column, instead of tables.",
)


def echo_json(rows: list[dict[str, Any]]) -> None:
    """The rows of a list command, as one JSON array on stdout."""
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


def cli_settings(data_dir: Path | None, **overrides: Any) -> Settings:
    default_domain = overrides.pop("default_domain", None)
    try:
        settings = load_settings(data_dir, overrides=overrides, default_domain=default_domain)
        return ensure_data_dir(settings)
    except (ConfigError, DatabaseURLError) as exc:
        raise fail(str(exc)) from exc


def migrate_database(settings: Settings) -> None:
    from server.db.migrations import upgrade

    try:
        upgrade(settings.database_url)
    except DatabaseURLError as exc:
        raise fail(str(exc)) from exc
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise fail(f"cannot use the database {safe_url(settings)}: {reason}") from exc


def safe_url(settings: Settings) -> str:
    return dict((env, shown) for env, shown, _ in describe(settings))["LIKEWISE_DATABASE_URL"]


def run_async(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        raise fail(exc.message) from exc


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
