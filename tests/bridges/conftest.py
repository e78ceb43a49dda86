from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.fakes.bluesky import FakeBluesky
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.fakes.server import serve


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mastodon() -> Iterator[FakeMastodonApi]:
    fake = FakeMastodonApi()
    with serve(fake):
        yield fake


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    fake = FakeBluesky()
    with serve(fake):
        yield fake
