"""A locked account answers follow requests; a deleted post is withdrawn from followers."""

from __future__ import annotations

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Follow
from tests.support.accounts import bearer, make_account, make_token, post_status
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
        notified = (await http.get("/api/v1/notifications", headers=auth)).json()
        answered = await http.post(
            f"/api/v1/follow_requests/{requests[0]['id']}/authorize", headers=auth
        )
        assert answered.status_code == 200
        assert set(answered.json()) == RELATIONSHIP_KEYS
        assert answered.json()["id"] == requests[0]["id"]
        assert answered.json()["followed_by"] is True
        assert [(n["type"], n["account"]["id"]) for n in notified] == [
            ("follow_request", requests[0]["id"])
        ]
        answered_too = await http.post(
            f"/api/v1/follow_requests/{requests[0]['id']}/authorize", headers=auth
        )
        assert answered_too.status_code == 404
        assert (await http.get("/api/v1/notifications", headers=auth)).json() == []
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


RELATIONSHIP_KEYS = {
    "id", "following", "showing_reblogs", "notifying", "languages", "followed_by", "blocking",
    "blocked_by", "muting", "muting_notifications", "requested", "requested_by",
    "domain_blocking", "endorsed", "note",
}  # fmt: skip


async def _id(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
    me = await client.get("/api/v1/accounts/verify_credentials", headers=auth)
    return str(me.json()["id"])


async def test_local_requesters_carry_their_account_ids_from_notification_to_answer(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given a locked carol, and dave then erin (local accounts) asking to follow her
    carol_account = await make_account(app, "carol")
    carol = {"Authorization": f"Bearer {await make_token(app, carol_account, 'read write follow')}"}
    dave, erin = [await bearer(app, name, "read write follow") for name in ("dave", "erin")]
    ids = {name: await _id(client, auth) for name, auth in (("dave", dave), ("erin", erin))}
    carol_id = await _id(client, carol)
    locked = await client.patch(
        "/api/v1/accounts/update_credentials", data={"locked": "true"}, headers=carol
    )
    assert locked.status_code == 200
    for auth in (dave, erin):
        asked = await client.post(f"/api/v1/accounts/{carol_id}/follow", headers=auth)
        assert asked.json()["requested"] is True and asked.json()["following"] is False
    # When carol reads her notifications and her follow requests
    notified = (await client.get("/api/v1/notifications", headers=carol)).json()
    listed = await client.get("/api/v1/follow_requests", headers=carol)
    # Then both name each requester by the same account id, newest first
    assert [(n["type"], n["account"]["id"]) for n in notified] == [
        ("follow_request", ids["erin"]),
        ("follow_request", ids["dave"]),
    ]
    assert all("status" not in n for n in notified)  # as documented: only status types
    assert [a["id"] for a in listed.json()] == [ids["erin"], ids["dave"]]
    assert listed.json()[0]["acct"] == "erin" and 'rel="next"' in listed.headers["link"]
    first = await client.get("/api/v1/follow_requests", params={"limit": "1"}, headers=carol)
    assert [a["id"] for a in first.json()] == [ids["erin"]]
    # When she authorizes dave by that id
    authorized = await client.post(
        f"/api/v1/follow_requests/{ids['dave']}/authorize", headers=carol
    )
    # Then the answer is a full Relationship: dave follows her now
    assert authorized.status_code == 200, authorized.text
    relationship = authorized.json()
    assert set(relationship) == RELATIONSHIP_KEYS
    assert relationship["id"] == ids["dave"]
    assert relationship["followed_by"] is True and relationship["requested_by"] is False
    assert relationship["following"] is False
    seen = await client.get(
        "/api/v1/accounts/relationships", params={"id[]": carol_id}, headers=dave
    )
    assert seen.json()[0]["following"] is True and seen.json()[0]["requested"] is False
    private = await post_status(client, carol, status="followers only", visibility="private")
    assert (await client.get(f"/api/v1/statuses/{private['id']}", headers=dave)).status_code == 200
    # And rejecting erin leaves no follow and no request
    rejected = await client.post(f"/api/v1/follow_requests/{ids['erin']}/reject", headers=carol)
    assert rejected.status_code == 200, rejected.text
    assert set(rejected.json()) == RELATIONSHIP_KEYS
    assert rejected.json()["followed_by"] is False and rejected.json()["requested_by"] is False
    theirs = await client.get(
        "/api/v1/accounts/relationships", params={"id[]": carol_id}, headers=erin
    )
    assert theirs.json()[0]["following"] is False and theirs.json()[0]["requested"] is False
    assert (await client.get("/api/v1/follow_requests", headers=carol)).json() == []
    # And the answered requests' notifications are gone with them
    assert (await client.get("/api/v1/notifications", headers=carol)).json() == []
    # An answered request, an unknown or malformed id: 404
    for ref in (ids["dave"], ids["erin"], "r999999", "999999", "abc", f"r{ids['dave']}"):
        again = await client.post(f"/api/v1/follow_requests/{ref}/authorize", headers=carol)
        assert again.status_code == 404 and "error" in again.json(), ref
    # A token without write:follows cannot answer, one without read:follows cannot list
    reader = await make_token(app, carol_account, "read")
    refused = await client.post(
        f"/api/v1/follow_requests/{ids['dave']}/reject",
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert refused.status_code == 403
