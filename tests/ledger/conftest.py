from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.db import Database
from server.settings import Settings


@pytest.fixture
def money_settings(settings: Settings) -> Settings:
    return settings.replace(fee_bps=1000)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()
