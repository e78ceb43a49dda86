from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.db.engine import Database
from server.settings import Settings
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.databases import DatabaseFactory
from tests.support.instances import LiveInstance
from tests.support.lifespan import app_lifespan
from tests.support.processes import (
    LIVE_FIXTURES,
    Processes,
    running_test,
    starts_processes_itself,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytest_plugins = ["tests.support.fixtures"]

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

TEST_DOMAIN = "likewise.test"


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture
def database_url(databases: DatabaseFactory) -> str:
    return databases.migrated()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        domain=TEST_DOMAIN,
        database_url=database_url,
        dev=True,
        secret_key="test-secret-key-not-for-production",
        run_worker=False,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The test database, through the app's own Database (no app around it)."""
    database = Database(settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with app_lifespan(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{TEST_DOMAIN}") as c:
        yield c


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that starts processes is `live` (and one with Chromium's `page` is
    `browser` too): it uses a fixture of LIVE_FIXTURES. Runs before `-m` selects."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not fixtures.isdisjoint(LIVE_FIXTURES):
            item.add_marker(pytest.mark.live)
        if "page" in fixtures:
            item.add_marker(pytest.mark.browser)
        function = getattr(item, "function", None)
        if (
            item.get_closest_marker("live") is None
            and function is not None
            and starts_processes_itself(function)
        ):
            raise pytest.UsageError(
                f"{item.nodeid} starts a process itself: take it through a fixture of "
                f"{sorted(LIVE_FIXTURES)} so that it is marked live"
            )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    running_test(item.get_closest_marker("live") is not None)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    running_test(None)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Start long-running commands (`processes.start(args)`); those left are killed after."""
    started = Processes()
    yield started
    started.stop_all()


@pytest.fixture
def instances(tmp_path: Path, databases: DatabaseFactory) -> Iterator[Callable[..., LiveInstance]]:
    """Start real instances: `instances()` returns a running LiveInstance."""
    started: list[LiveInstance] = []

    def start(
        name: str | None = None,
        *,
        autostart: bool = True,
        verify: str | bool = False,
        **kwargs: Any,
    ) -> LiveInstance:
        label = name or f"instance{len(started) + 1}"
        kwargs.setdefault("database_url", databases.empty())
        instance = LiveInstance(data_dir=tmp_path / label, **kwargs)
        started.append(instance)
        return instance.start(verify=verify) if autostart else instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    """A fresh page in Debian's headless Chromium (never a browser Playwright downloads)."""
    from playwright.async_api import async_playwright

    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context()
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()
