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


async def test_an_account_of_this_instance_is_followed_by_its_handle_or_url(
    beta: Starlette, network: Network
) -> None:
    # Given dave, erin and frank on beta, and frank blocks dave
    dave = await make_account(beta, "dave")
    erin = await make_account(beta, "erin")
    frank = await make_account(beta, "frank")
    auth = {"Authorization": f"Bearer {await make_token(beta, dave, 'read write follow')}"}
    frank_auth = {"Authorization": f"Bearer {await make_token(beta, frank, 'read write follow')}"}
    async with network.client("beta.test") as http:
        blocked = await http.post(f"/api/v1/accounts/{dave.id}/block", headers=frank_auth)
        assert blocked.status_code == 200, blocked.text
        # When dave follows erin by her handle and frank by his profile URL
        by_handle = await http.post("/api/v1/follows", data={"uri": "erin@beta.test"}, headers=auth)
        by_url = await http.post(
            "/api/v1/follows", data={"uri": "http://beta.test/@frank"}, headers=auth
        )
        relationship = await http.get(
            "/api/v1/accounts/relationships", params={"id[]": str(erin.id)}, headers=auth
        )
    # Then erin is followed at once, answered as the local account she is
    assert by_handle.status_code == 200, by_handle.text
    assert by_handle.json()["id"] == str(erin.id) and by_handle.json()["acct"] == "erin"
    assert relationship.json()[0]["following"] is True
    # And the block stands between dave and frank
    assert by_url.status_code == 403, by_url.text
    async with context(beta).db.session() as session:
        assert len((await session.exec(select(Follow))).all()) == 1
