"""An X creator known two ways: by handle, as an X archive names authors (the importers), and
by the stable user id, as the API does. Connecting the X account claims both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import col, select

from server.donations.clicks import CreatorRef, ensure_identity
from server.models import Identity
from server.settings import Settings
from tests.connections.conftest import Donor
from tests.support.accounts import csrf_from, make_account
from tests.support.databases import DatabaseFactory
from tests.support.fakes.bluesky import FakeBluesky
from tests.support.fakes.server import serve
from tests.support.fakes.x import FakeX
from tests.support.network import bluesky_table, oauth_table, settings_with_bridges


@pytest.fixture
def x() -> Iterator[FakeX]:
    fake = FakeX()
    with serve(fake):
        yield fake


@pytest.fixture
def alpha_settings(
    tmp_path: Path, databases: DatabaseFactory, bluesky: FakeBluesky, x: FakeX
) -> Settings:
    tables = {
        "bluesky": bluesky_table(bluesky.base),
        "x": oauth_table(f"http://{x.host}", monthly_requests=100),
    }
    return settings_with_bridges(tmp_path, "alpha.test", databases, tables)


async def _identities(donor: Donor) -> list[tuple[str, int | None]]:
    async with donor.db.session() as session:
        found = await session.exec(
            select(Identity.external_id, Identity.claimed_account_id)
            .where(Identity.network == "x")
            .order_by(col(Identity.id))
        )
        return list(found.all())


async def _remember(donor: Donor, handle: str) -> None:
    """What an X archive import leaves: an identity by lowercased handle."""
    async with donor.db.transaction() as session:
        ref = CreatorRef("x", handle.lower(), f"@{handle}", f"https://x.com/{handle}")
        await ensure_identity(session, ref)


async def _connect_x(donor: Donor) -> httpx.Response:
    page = await donor.web.get("/settings/connections")
    answer = await donor.web.post(
        "/settings/connections/connect",
        data={"network": "x", "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 303, answer.text
    async with httpx.AsyncClient() as browser:
        authorized = await browser.get(answer.headers["location"])
    back = urlsplit(authorized.headers["location"])
    return await donor.web.get(f"{back.path}?{back.query}")


async def test_connecting_x_claims_the_handle_an_archive_named_too(donor: Donor, x: FakeX) -> None:
    # Given an archive import named the author by handle, before they joined
    x.add_account("Harbour_Poet")
    x.provider.user = "Harbour_Poet"
    await _remember(donor, "Harbour_Poet")
    await _remember(donor, "someone_else")
    # When the author connects their X account here
    done = await _connect_x(donor)
    assert done.status_code == 303, done.text
    # Then the id the API gives and the handle the archive gave are both theirs; another
    # handle is nobody's
    user_id = str(x.users["Harbour_Poet"])
    assert sorted(await _identities(donor)) == sorted(
        [
            ("harbour_poet", donor.account_id),
            ("someone_else", None),
            (user_id, donor.account_id),
        ]
    )


async def test_a_handle_someone_else_holds_stays_theirs(donor: Donor, x: FakeX) -> None:
    other = await make_account(donor.app, "otto")
    await _remember(donor, "Harbour_Poet")
    async with donor.db.transaction() as session:
        found = await session.exec(select(Identity).where(Identity.external_id == "harbour_poet"))
        held = found.one()
        held.claimed_account_id = other.id
        session.add(held)
    x.add_account("Harbour_Poet")
    x.provider.user = "Harbour_Poet"
    assert (await _connect_x(donor)).status_code == 303
    claimed = dict(await _identities(donor))
    assert claimed["harbour_poet"] == other.id
    assert claimed[str(x.users["Harbour_Poet"])] == donor.account_id
