"""A donor logged in to an in-process instance, uploading through the import pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.imports.support import Donor
from tests.support.accounts import log_in, make_account


@pytest.fixture
async def donor(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[Donor]:
    account = await make_account(app, "dora")
    answer = await log_in(client, "dora")
    assert answer.status_code == 303, answer.text
    yield Donor(app, client, account.id or 0)
