"""A locked account answers follow requests; a deleted post is withdrawn from followers."""

from __future__ import annotations

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Follow
from tests.support.accounts import make_account, make_token
from tests.support.inbox import INBOX, send
from tests.support.network import Network
from tests.support.remote import RemoteActor


async def test_locked_account_authorizes_then_deletes_a_post(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given a locked carol and a follow request from bob
    carol = await make_account(alpha, "carol")
    async with context(alpha).db.transaction() as session:
        carol.locked = True
        session.add(carol)
    auth = {"Authorization": f"Bearer {await make_token(alpha, carol, 'read write follow')}"}
    follow = {
        "id": f"{mastodon.uri}#follows/9",
        "type": "Follow",
        "actor": mastodon.uri,
        "object": "http://alpha.test/users/carol",
    }
    assert (await send(network, *mastodon.signed(INBOX, follow))).status_code == 202
    await context(alpha).worker.drain()
    async with network.client("alpha.test") as http:
        # When she lists and authorizes it
        requests = (await http.get("/api/v1/follow_requests", headers=auth)).json()
        assert [r["uri"] for r in requests] == [mastodon.uri]
        answered = await http.post(
            f"/api/v1/follow_requests/{requests[0]['id']}/authorize", headers=auth
        )
        assert answered.status_code == 200
        await context(alpha).worker.drain()
        # And posts, then deletes the post
        posted = (await http.post("/api/v1/statuses", json={"status": "hi"}, headers=auth)).json()
        deleted = await http.delete(f"/api/v1/statuses/{posted['id']}", headers=auth)
        gone = await http.get(f"/api/v1/statuses/{posted['id']}")
    await context(alpha).worker.drain()
    # Then bob got the Accept, the Create and the Delete
    assert [a["type"] for a in mastodon.server.activities()] == ["Accept", "Create", "Delete"]
    assert mastodon.server.activities()[0]["object"]["id"] == follow["id"]
    assert mastodon.server.activities()[2]["object"]["id"] == posted["uri"]
    assert deleted.status_code == 200 and gone.status_code == 404
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).one().state == "accepted"
