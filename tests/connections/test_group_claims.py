"""A creator claims a group they run on a network (an organisation on GitHub) through the
connections page: the network's sign-in, then its proof that they administer the group.
The identity becomes theirs; nothing is connected for likes. A member who is not an admin,
a group someone else holds, and a claim on a network without groups are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import select

from server.models import ConnectedAccount, Identity
from server.settings import Settings
from tests.connections.conftest import Donor
from tests.support.accounts import csrf_from
from tests.support.databases import DatabaseFactory
from tests.support.fakes.bluesky import FakeBluesky
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.server import serve
from tests.support.network import bluesky_table, oauth_table, settings_with_bridges

ORG = "harbour-collective"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    with serve(fake):
        yield fake


@pytest.fixture
def alpha_settings(
    tmp_path: Path, databases: DatabaseFactory, bluesky: FakeBluesky, github: FakeGitHub
) -> Settings:
    """alpha.test, with Bluesky and GitHub at their fakes."""
    tables = {
        "bluesky": bluesky_table(bluesky.base),
        "github": oauth_table(f"http://{github.host}"),
    }
    return settings_with_bridges(tmp_path, "alpha.test", databases, tables)


async def claim(donor: Donor, network: str, handle: str) -> httpx.Response:
    """The claim form, the network's sign-in (it approves at once), back to the callback."""
    page = await donor.web.get("/settings/connections")
    assert page.status_code == 200
    answer = await donor.web.post(
        "/settings/connections/connect",
        data={
            "network": network,
            "purpose": "claim",
            "handle": handle,
            "csrf_token": csrf_from(page.text),
        },
    )
    if answer.status_code != 303:
        return answer
    async with httpx.AsyncClient() as browser:
        authorized = await browser.get(answer.headers["location"])
    assert authorized.status_code in (302, 307), authorized.text
    back = urlsplit(authorized.headers["location"])
    return await donor.web.get(f"{back.path}?{back.query}")


async def identities(donor: Donor) -> list[tuple[str, str, int | None]]:
    async with donor.db.session() as session:
        found = await session.exec(select(Identity).where(Identity.network == "github"))
        return [(i.external_id, i.handle, i.claimed_account_id) for i in found.all()]


async def test_an_admin_claims_their_organisation_and_nothing_is_polled(
    donor: Donor, github: FakeGitHub
) -> None:
    # Given the donor's GitHub account administers an organisation
    org = github.add_account(ORG, kind="Organization")
    github.memberships[(ORG, "donor")] = ("active", "admin")
    page = await donor.web.get("/settings/connections")
    assert 'id="claim-github"' in page.text and "Claim this organisation" in page.text
    # When they claim it through the page
    done = await claim(donor, "github", ORG)
    # Then the organisation is theirs, and no account is connected for likes
    assert done.status_code == 303, done.text
    assert await identities(donor) == [(str(org.id), ORG, donor.account_id)]
    async with donor.db.session() as session:
        assert (await session.exec(select(ConnectedAccount))).all() == []
    shown = await donor.web.get("/settings/connections")
    assert f"{ORG} is yours as a creator" in shown.text


async def test_a_member_who_is_not_an_admin_claims_nothing(
    donor: Donor, github: FakeGitHub
) -> None:
    github.add_account(ORG, kind="Organization")
    github.memberships[(ORG, "donor")] = ("active", "member")
    refused = await claim(donor, "github", ORG)
    assert refused.status_code == 422, refused.text
    assert "is not an admin of the GitHub organisation" in refused.text
    assert await identities(donor) == []


async def test_a_claim_needs_a_group_and_a_network_that_has_groups(
    donor: Donor, github: FakeGitHub
) -> None:
    without_name = await claim(donor, "github", "")
    assert without_name.status_code == 422
    assert "name the GitHub organisation to claim" in without_name.text, without_name.text
    on_bluesky = await claim(donor, "bluesky", "dora.test")
    assert on_bluesky.status_code == 422
    assert "name the Bluesky identity to claim" in on_bluesky.text
    odd = await donor.web.post(
        "/settings/connections/connect",
        data={
            "network": "github",
            "purpose": "take-over",
            "handle": ORG,
            "csrf_token": csrf_from((await donor.web.get("/settings/connections")).text),
        },
    )
    assert odd.status_code == 422
    assert await identities(donor) == []
