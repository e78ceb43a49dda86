"""A URL a client names (follow, search, remote interaction) is held to the origin rule:
one with a user name is refused, a local one is never fetched from ourselves, and one that
cannot be fetched is not found (a 4xx), never a gateway error."""

from __future__ import annotations

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Follow
from tests.support.accounts import make_account, make_token
from tests.support.network import Network


@pytest.mark.parametrize(
    ("uri", "status"),
    [
        ("http://user:pass@alpha.test/users/carol", 422),
        ("http://carol@alpha.test/users/carol", 422),
        ("http://beta.test/@nobody", 404),
        ("http://beta.test/users/nobody", 404),
        ("http://alpha.test/users/nobody", 404),
        ("http://nowhere.invalid/x", 404),
    ],
)
async def test_a_follow_of_a_url_that_is_nobody_s_changes_nothing(
    alpha: Starlette, beta: Starlette, network: Network, uri: str, status: int
) -> None:
    # Given carol on alpha and dave on beta
    await make_account(alpha, "carol")
    dave = await make_account(beta, "dave")
    auth = {"Authorization": f"Bearer {await make_token(beta, dave, 'read write follow')}"}
    # When dave follows a URL with a user name, an unknown local one or an unreachable one
    async with network.client("beta.test") as http:
        followed = await http.post("/api/v1/follows", data={"uri": uri}, headers=auth)
        searched = await http.get(
            "/api/v2/search", params={"q": uri, "resolve": "true"}, headers=auth
        )
    # Then each is a clear 4xx and no follow is recorded
    assert followed.status_code == status, followed.text
    assert "error" in followed.json()
    assert searched.status_code in (200, status), searched.text
    async with context(beta).db.session() as session:
        assert (await session.exec(select(Follow))).all() == []


async def test_the_same_account_by_its_plain_url_is_followed(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await make_account(alpha, "carol")
    dave = await make_account(beta, "dave")
    auth = {"Authorization": f"Bearer {await make_token(beta, dave, 'read write follow')}"}
    async with network.client("beta.test") as http:
        followed = await http.post(
            "/api/v1/follows", data={"uri": "http://alpha.test/users/carol"}, headers=auth
        )
    assert followed.status_code == 200, followed.text
