"""Fresh databases for tests: SQLite files by default, PostgreSQL when
LIKEWISE_TEST_DATABASE_URL points at one (each test gets its own database)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from server.db.migrations import upgrade

TEST_DATABASE_URL_ENV = "LIKEWISE_TEST_DATABASE_URL"


def test_database_url() -> str | None:
    return os.environ.get(TEST_DATABASE_URL_ENV) or None


def _server_dsn(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_statements(url: str, statements: tuple[str, ...]) -> None:
    connection = await asyncpg.connect(_server_dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _in_thread(function: Callable[..., object], *args: object) -> None:
    """Run code that starts its own event loop, even from inside a running one."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(function, *args).result()


def pg_execute(url: str, *statements: str) -> None:
    _in_thread(asyncio.run, _pg_statements(url, statements))


@dataclass
class DatabaseFactory:
    """Makes migrated databases quickly by copying one migrated template."""

    workdir: Path
    base_url: str | None = test_database_url()
    _template: str | None = None
    _created: list[str] = field(default_factory=list)

    @property
    def is_postgres(self) -> bool:
        return self.base_url is not None

    def _template_url(self) -> str:
        if self._template is None:
            if self.base_url is None:
                path = self.workdir / "template.db"
                self._template = f"sqlite+aiosqlite:///{path}"
            else:
                name = f"lw_tpl_{uuid.uuid4().hex[:10]}"
                pg_execute(self.base_url, f'CREATE DATABASE "{name}"')
                self._created.append(name)
                self._template = (
                    make_url(self.base_url).set(database=name).render_as_string(hide_password=False)
                )
            _in_thread(upgrade, self._template)
        return self._template

    def empty(self) -> str:
        """A URL of a database with no tables at all."""
        if self.base_url is None:
            return f"sqlite+aiosqlite:///{self.workdir / uuid.uuid4().hex}.db"
        name = f"lw_{uuid.uuid4().hex[:12]}"
        pg_execute(self.base_url, f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def migrated(self) -> str:
        """A URL of a new database already at the schema's head."""
        template = self._template_url()
        if self.base_url is None:
            source = Path(make_url(template).database or "")
            target = self.workdir / f"{uuid.uuid4().hex}.db"
            shutil.copyfile(source, target)
            return f"sqlite+aiosqlite:///{target}"
        name = f"lw_{uuid.uuid4().hex[:12]}"
        template_name = make_url(template).database
        pg_execute(self.base_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
        self._created.append(name)
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.base_url is None or not self._created:
            return
        drops = [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in reversed(self._created)]
        pg_execute(self.base_url, *drops)
        self._created.clear()
