"""Follows and relationships through the client API: local accounts, and a remote one on a
second in-process instance (Follow, Accept, Undo Follow federated)."""

from __future__ import annotations

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Follow
from tests.support.accounts import make_account, make_token
from tests.support.inbox import drain
from tests.support.network import Network


async def _auth(app: Starlette, name: str) -> tuple[str, dict[str, str]]:
    account = await make_account(app, name)
    token = await make_token(app, account, "read write follow")
    return str(account.id), {"Authorization": f"Bearer {token}"}


async def test_local_follows_relationships_and_lists(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice, alice_auth = await _auth(app, "alice")
    bob, bob_auth = await _auth(app, "bob")
    carol, carol_auth = await _auth(app, "carol")
    # carol is locked: a follow of her waits for her answer
    await client.patch(
        "/api/v1/accounts/update_credentials", data={"locked": "true"}, headers=carol_auth
    )
    to_bob = await client.post(f"/api/v1/accounts/{bob}/follow", headers=alice_auth)
    to_carol = await client.post(f"/api/v1/accounts/{carol}/follow", headers=alice_auth)
    assert to_bob.json()["following"] is True and to_bob.json()["id"] == bob
    assert to_carol.json()["following"] is False and to_carol.json()["requested"] is True
    await client.post(f"/api/v1/accounts/{alice}/follow", headers=bob_auth)
    await client.post(f"/api/v1/accounts/{bob}/follow", headers=carol_auth)
    found = await client.get(
        "/api/v1/accounts/relationships",
        params=[("id[]", bob), ("id[]", carol), ("id[]", "r99999")],
        headers=alice_auth,
    )
    assert [(r["id"], r["following"], r["followed_by"], r["requested"]) for r in found.json()] == [
        (bob, True, True, False),
        (carol, False, False, True),
    ]
    requests = await client.get("/api/v1/accounts/verify_credentials", headers=carol_auth)
    assert requests.json()["source"]["follow_requests_count"] == 1
    # Followers and following, with counts
    followers = await client.get(f"/api/v1/accounts/{bob}/followers")
    assert sorted(a["username"] for a in followers.json()) == ["alice", "carol"]
    assert 'rel="next"' in followers.headers["link"]
    page = await client.get(f"/api/v1/accounts/{bob}/followers", params={"limit": "1"})
    assert len(page.json()) == 1
    following = await client.get(f"/api/v1/accounts/{alice}/following")
    assert [a["username"] for a in following.json()] == ["bob"]
    assert following.json()[0]["followers_count"] == 2
    # Familiar followers: whom carol follows that follow bob... alice asks about bob
    familiar = await client.get(
        "/api/v1/accounts/familiar_followers", params={"id[]": bob}, headers=carol_auth
    )
    assert familiar.json() == [{"id": bob, "accounts": []}]
    await client.post(f"/api/v1/accounts/{alice}/follow", headers=carol_auth)
    familiar = await client.get(
        "/api/v1/accounts/familiar_followers", params={"id[]": bob}, headers=carol_auth
    )
    assert [a["username"] for a in familiar.json()[0]["accounts"]] == ["alice"]
    # Unfollow, and withdraw the request
    gone = await client.post(f"/api/v1/accounts/{bob}/unfollow", headers=alice_auth)
    withdrawn = await client.post(f"/api/v1/accounts/{carol}/unfollow", headers=alice_auth)
    assert gone.json()["following"] is False and gone.json()["followed_by"] is True
    assert withdrawn.json()["requested"] is False
    # Blocking a local account cuts follows both ways and refuses new ones
    blocked = await client.post(f"/api/v1/accounts/{alice}/block", headers=bob_auth)
    assert blocked.json()["blocking"] is True and blocked.json()["followed_by"] is False
    seen = await client.get(
        "/api/v1/accounts/relationships", params={"id[]": bob}, headers=alice_auth
    )
    assert seen.json()[0]["blocked_by"] is True and seen.json()[0]["followed_by"] is False
    refused = await client.post(f"/api/v1/accounts/{bob}/follow", headers=alice_auth)
    assert refused.status_code == 403 and "error" in refused.json()
    myself = await client.post(f"/api/v1/accounts/{alice}/follow", headers=alice_auth)
    assert myself.status_code == 403
    assert (
        await client.post("/api/v1/accounts/nope/follow", headers=alice_auth)
    ).status_code == 404
    read_only = {
        "Authorization": f"Bearer {await make_token(app, await make_account(app, 'dan'), 'read')}"
    }
    assert (
        await client.post(f"/api/v1/accounts/{bob}/follow", headers=read_only)
    ).status_code == 403


async def test_follow_and_unfollow_across_two_instances(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given carol on alpha and dave on beta
    await make_account(alpha, "carol")
    _, dave_auth = await _auth(beta, "dave")
    # When dave finds carol (search with resolve) and follows her by her account id
    async with network.client("beta.test") as http:
        found = await http.get(
            "/api/v1/accounts/search",
            params={"q": "carol@alpha.test", "resolve": "true"},
            headers=dave_auth,
        )
        remote_id = found.json()[0]["id"]
        nobody = await http.get(
            "/api/v1/accounts/search",
            params={"q": "nobody@alpha.test", "resolve": "true"},
            headers=dave_auth,
        )
        assert nobody.status_code == 200 and nobody.json() == []
        assert remote_id.startswith("r")
        looked_up = await http.get("/api/v1/accounts/lookup", params={"acct": "carol@alpha.test"})
        assert looked_up.json()["id"] == remote_id
        followed = await http.post(f"/api/v1/accounts/{remote_id}/follow", headers=dave_auth)
    assert followed.status_code == 200, followed.text
    assert followed.json()["requested"] is True
    await drain(alpha, beta)
    # Then alpha accepted and both sides hold the follow
    async with network.client("beta.test") as http:
        rel = await http.get(
            "/api/v1/accounts/relationships", params={"id[]": remote_id}, headers=dave_auth
        )
        shown = await http.get(f"/api/v1/accounts/{remote_id}")
    assert rel.json()[0]["following"] is True
    assert shown.json()["acct"] == "carol@alpha.test"
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).one().state == "accepted"
    async with network.client("alpha.test") as http:
        carol = await http.get("/api/v1/accounts/lookup", params={"acct": "carol"})
    assert carol.json()["followers_count"] == 1
    # When he unfollows, an Undo Follow reaches alpha
    async with network.client("beta.test") as http:
        gone = await http.post(f"/api/v1/accounts/{remote_id}/unfollow", headers=dave_auth)
    assert gone.json()["following"] is False
    await drain(alpha, beta)
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).all() == []
    async with context(beta).db.session() as session:
        assert (await session.exec(select(Follow))).all() == []
