from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Click, Follow, Note
from tests.support.accounts import make_account, make_token
from tests.support.inbox import drain
from tests.support.network import Network


async def test_follow_post_like_unlike_across_two_instances(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given carol on alpha and dave on beta
    carol = await make_account(alpha, "carol")
    dave = await make_account(beta, "dave")
    carol_token = await make_token(alpha, carol)
    dave_token = await make_token(beta, dave, "read write follow")
    dave_auth = {"Authorization": f"Bearer {dave_token}"}
    # When dave follows carol by her handle
    async with network.client("beta.test") as http:
        followed = await http.post(
            "/api/v1/follows", data={"uri": "carol@alpha.test"}, headers=dave_auth
        )
    assert followed.status_code == 200, followed.text
    await drain(alpha, beta)
    async with context(beta).db.session() as session:
        assert (await session.exec(select(Follow))).one().state == "accepted"
    # And carol posts
    async with network.client("alpha.test") as http:
        posted = await http.post(
            "/api/v1/statuses",
            json={"status": "support my work"},
            headers={"Authorization": f"Bearer {carol_token}", "Idempotency-Key": "k1"},
        )
        repeated = await http.post(
            "/api/v1/statuses",
            json={"status": "support my work"},
            headers={"Authorization": f"Bearer {carol_token}", "Idempotency-Key": "k1"},
        )
    status: dict[str, Any] = posted.json()
    assert repeated.json()["id"] == status["id"]
    await drain(alpha, beta)
    # Then the post arrived on beta
    async with context(beta).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == status["uri"]))).one()
    assert cached.content == "<p>support my work</p>"
    # When dave likes it from his Mastodon app (search-resolve, then favourite)
    async with network.client("beta.test") as http:
        found = await http.get(
            "/api/v2/search", params={"q": status["uri"], "resolve": "true"}, headers=dave_auth
        )
        local_id = found.json()["statuses"][0]["id"]
        liked = await http.post(f"/api/v1/statuses/{local_id}/favourite", headers=dave_auth)
        await http.post(f"/api/v1/statuses/{local_id}/favourite", headers=dave_auth)
    assert liked.json()["favourited"] is True
    async with context(beta).db.session() as session:
        clicks = (await session.exec(select(Click))).all()
    assert [(c.donor_id, c.source) for c in clicks] == [(dave.id, "client_api")]
    await drain(alpha, beta)
    async with network.client("alpha.test") as http:
        counted = (await http.get(f"/api/v1/statuses/{status['id']}")).json()
    assert counted["favourites_count"] == 1
    # When he unlikes it
    async with network.client("beta.test") as http:
        await http.post(f"/api/v1/statuses/{local_id}/unfavourite", headers=dave_auth)
    await drain(alpha, beta)
    async with network.client("alpha.test") as http:
        counted = (await http.get(f"/api/v1/statuses/{status['id']}")).json()
        likes = await http.get(
            status["uri"] + "/likes", headers={"Accept": "application/activity+json"}
        )
    assert counted["favourites_count"] == 0
    assert likes.json()["totalItems"] == 0
    async with context(beta).db.session() as session:
        assert (await session.exec(select(Click))).all() == []
