"""Notifications: made by signed inbox activities (Follow, Like, Announce, a Create that
mentions someone) and by local favourites, read, filtered, dismissed and cleared through
the client API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.donations.close import close_period
from server.donations.housekeeping import run_housekeeping
from server.models import Account, Actor
from server.settings import Settings
from server.social.notifications import FUNDS_RECEIVED, PERIOD_CLOSED, notify
from tests.support.accounts import make_account, make_token
from tests.support.inbox import deliver, make_activity, make_note, post_note
from tests.support.ledger import donor, fediverse_thing, like, web_thing
from tests.support.network import Network
from tests.support.remote import RemoteActor


async def _token(app: Starlette, username: str, scopes: str = "read write") -> str:
    async with context(app).db.session() as session:
        account = (await session.exec(select(Account).where(Account.username == username))).one()
    return await make_token(app, account, scopes)


async def _get(network: Network, token: str, path: str, params: Any = None) -> httpx.Response:
    async with network.client("alpha.test") as http:
        return await http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


async def _post(network: Network, token: str, path: str) -> httpx.Response:
    async with network.client("alpha.test") as http:
        return await http.post(path, headers={"Authorization": f"Bearer {token}"})


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _types(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["type"] for item in answer.json()]


async def test_remote_follow_like_reblog_and_mention_notify_the_local_account(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    carol = "http://alpha.test/users/carol"
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Follow", 1, carol))
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 2, status["uri"]))
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Announce", 3, status["uri"]))
    note = make_note(mastodon, '<p><a href="http://alpha.test/@carol">@carol</a> hi</p>')
    note["tag"] = [{"type": "Mention", "href": carol, "name": "@carol@alpha.test"}]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 4, note))

    answer = await _get(network, token, "/api/v1/notifications")
    assert _types(answer) == ["mention", "reblog", "favourite", "follow"]
    items = answer.json()
    assert {item["account"]["acct"] for item in items} == {"bob@mastodon.test"}
    assert items[2]["status"]["id"] == status["id"]
    assert items[0]["status"]["uri"] == note["id"] and "status" not in items[3]
    assert all(isinstance(item["id"], str) and item["created_at"] for item in items)
    assert 'rel="next"' in answer.headers["link"]
    # The same Like again (a redelivery under a new id) tells carol nothing new.
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 5, status["uri"]))
    assert len(_types(await _get(network, token, "/api/v1/notifications"))) == 4
    # Undoing the Like and the Announce takes their notifications back
    like = {"type": "Like", "actor": mastodon.uri, "object": status["uri"]}
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Undo", 6, like))
    shared = make_activity(mastodon, "Announce", 3, status["uri"])
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Undo", 7, shared))
    remaining = _types(await _get(network, token, "/api/v1/notifications"))
    assert remaining == ["mention", "follow"]


async def test_filters_paging_dismiss_clear_and_unread_count(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 1, status["uri"]))
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Announce", 2, status["uri"]))
    path = "/api/v1/notifications"
    assert _types(await _get(network, token, path, {"types[]": "favourite"})) == ["favourite"]
    assert _types(await _get(network, token, path, {"exclude_types[]": ["reblog"]})) == [
        "favourite"
    ]
    assert len(_types(await _get(network, token, path, {"account_id": "1"}))) == 0
    bob = (await _get(network, token, path)).json()[0]["account"]["id"]
    assert len(_types(await _get(network, token, path, {"account_id": bob}))) == 2
    newest = await _get(network, token, path, {"limit": "1"})
    assert _types(newest) == ["reblog"]
    older = await _get(network, token, path, {"max_id": newest.json()[0]["id"]})
    assert _types(older) == ["favourite"]
    count = await _get(network, token, f"{path}/unread_count")
    assert count.json() == {"count": 2}
    # Read up to the older one (the notifications marker): one is unread
    async with network.client("alpha.test") as http:
        marked = await http.post(
            "/api/v1/markers",
            data={"notifications[last_read_id]": older.json()[0]["id"]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert marked.status_code == 200, marked.text
    assert (await _get(network, token, f"{path}/unread_count")).json() == {"count": 1}
    v2 = await _get(network, token, "/api/v2/notifications/unread_count")
    assert v2.json() == {"count": 1}

    one = older.json()[0]["id"]
    assert (await _get(network, token, f"{path}/{one}")).json()["type"] == "favourite"
    assert (await _post(network, token, f"{path}/{one}/dismiss")).status_code == 200
    assert (await _get(network, token, f"{path}/{one}")).status_code == 404
    assert _types(await _get(network, token, path)) == ["reblog"]
    assert (await _post(network, token, f"{path}/clear")).status_code == 200
    assert _types(await _get(network, token, path)) == []
    assert (await _get(network, token, f"{path}/unread_count")).json() == {"count": 0}


async def test_likewise_types_only_when_asked_for(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 1, status["uri"]))
    async with context(alpha).db.transaction() as session:
        carol = (await session.exec(select(Actor).where(Actor.username == "carol"))).one()
        sent = {"period": "2026-11", "amount": "5.00", "currency": "EUR", "clicks": 3}
        await notify(
            session, account_id=carol.account_id or 0, type=PERIOD_CLOSED,
            actor_id=carol.id or 0, data=sent,
        )  # fmt: skip
    path = "/api/v1/notifications"
    assert _types(await _get(network, token, path)) == ["favourite"]
    asked = await _get(network, token, path, {"types[]": [PERIOD_CLOSED, FUNDS_RECEIVED]})
    assert _types(asked) == [PERIOD_CLOSED]
    assert asked.json()[0]["likewise"] == sent
    assert asked.json()[0]["account"]["username"] == "carol"
    both = await _get(network, token, path, {"types[]": [PERIOD_CLOSED, "favourite"]})
    assert _types(both) == [PERIOD_CLOSED, "favourite"]
    unread = await _get(network, token, f"{path}/unread_count")
    assert unread.json() == {"count": 1}


async def test_grouped_notifications_fold_favourites_of_one_status(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 1, status["uri"]))
    dave = await make_account(alpha, "dave")
    dave_token = await make_token(alpha, dave)
    liked = await _post(network, dave_token, f"/api/v1/statuses/{status['id']}/favourite")
    assert liked.status_code == 200, liked.text
    answer = await _get(network, token, "/api/v2/notifications")
    assert answer.status_code == 200, answer.text
    grouped = answer.json()
    assert len(grouped["notification_groups"]) == 1
    group = grouped["notification_groups"][0]
    assert group["type"] == "favourite" and group["notifications_count"] == 2
    assert set(group["sample_account_ids"]) == {item["id"] for item in grouped["accounts"]}
    assert [item["id"] for item in grouped["statuses"]] == [status["id"]]


async def test_a_local_favourite_notifies_and_its_undo_withdraws_it(
    alpha: Starlette, network: Network
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    dave_token = await make_token(alpha, await make_account(alpha, "dave"))
    await _post(network, dave_token, f"/api/v1/statuses/{status['id']}/favourite")
    answer = await _get(network, token, "/api/v1/notifications")
    assert _types(answer) == ["favourite"]
    assert answer.json()[0]["account"]["username"] == "dave"
    # Carol's own favourite of her post tells her nothing.
    await _post(network, token, f"/api/v1/statuses/{status['id']}/favourite")
    assert _types(await _get(network, token, "/api/v1/notifications")) == ["favourite"]
    await _post(network, dave_token, f"/api/v1/statuses/{status['id']}/unfavourite")
    assert _types(await _get(network, token, "/api/v1/notifications")) == []


async def test_a_local_follow_mention_and_reblog_notify_and_an_unreblog_withdraws(
    alpha: Starlette, network: Network
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    carol = (await _get(network, token, "/api/v1/accounts/verify_credentials")).json()
    dave_token = await make_token(alpha, await make_account(alpha, "dave"))
    async with network.client("alpha.test") as http:
        followed = await http.post(
            f"/api/v1/accounts/{carol['id']}/follow", headers=_auth(dave_token)
        )
        assert followed.status_code == 200, followed.text
        mentioned = await http.post(
            "/api/v1/statuses", data={"status": "@carol look"}, headers=_auth(dave_token)
        )
        assert mentioned.status_code == 200, mentioned.text
    await _post(network, dave_token, f"/api/v1/statuses/{status['id']}/reblog")
    answer = await _get(network, token, "/api/v1/notifications")
    assert _types(answer) == ["reblog", "mention", "follow"]
    assert {item["account"]["username"] for item in answer.json()} == {"dave"}
    assert answer.json()[0]["status"]["id"] == status["id"]
    assert answer.json()[1]["status"]["id"] == mentioned.json()["id"]
    # Reblogging again tells carol nothing new; undoing the reblog takes it back.
    await _post(network, dave_token, f"/api/v1/statuses/{status['id']}/reblog")
    assert len(_types(await _get(network, token, "/api/v1/notifications"))) == 3
    await _post(network, dave_token, f"/api/v1/statuses/{status['id']}/unreblog")
    assert _types(await _get(network, token, "/api/v1/notifications")) == ["mention", "follow"]


async def test_scopes_and_other_accounts(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 1, status["uri"]))
    one = (await _get(network, token, "/api/v1/notifications")).json()[0]["id"]
    mallory = await make_token(alpha, await make_account(alpha, "mallory"))
    assert (await _get(network, mallory, "/api/v1/notifications")).json() == []
    assert (await _get(network, mallory, f"/api/v1/notifications/{one}")).status_code == 404
    dismissed = await _post(network, mallory, f"/api/v1/notifications/{one}/dismiss")
    assert dismissed.status_code == 404
    writer = await _token(alpha, "carol", "write:statuses")
    assert (await _get(network, writer, "/api/v1/notifications")).status_code == 403
    reader = await _token(alpha, "carol", "read")
    assert (await _post(network, reader, "/api/v1/notifications/clear")).status_code == 403
    for params in ({"limit": "x"}, {"max_id": "abc"}, {"since_id": "-1"}):
        bad = await _get(network, token, "/api/v1/notifications", params)
        assert bad.status_code == 400 and "error" in bad.json()
    assert (await _get(network, token, "/api/v1/notifications/x")).status_code == 404
    assert len(_types(await _get(network, token, "/api/v1/notifications"))) == 1


async def test_a_closed_month_tells_donors_what_was_sent_and_creators_what_arrived(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    # Given ann, who liked cat's post and a web page in October, and the month closed
    db = context(app).db
    ann = await donor(db, settings, "ann", funds=1000, budget=500)
    cat = await donor(db, settings, "cat")
    async with db.session() as session:
        cat_uri = (await session.exec(select(Actor.uri).where(Actor.account_id == cat))).one()
    october = datetime(2026, 10, 10, tzinfo=UTC)
    for thing in (
        fediverse_thing(f"{settings.base_url}/notes/1", cat_uri),
        web_thing("https://blog.example/a"),
    ):
        assert await like(db, settings, ann, thing, at=october) == "recorded"
    await close_period(db, settings, "2026-10")
    # When housekeeping runs (twice: it must not tell anyone twice)
    for _ in range(2):
        report = await run_housekeeping(db, settings)
        assert report.failed == []
    # Then ann hears what October sent, cat what arrived; plain listings show neither
    async with db.session() as session:
        accounts = [await session.get(Account, account_id) for account_id in (ann, cat)]
    tokens = {row.id: await make_token(app, row) for row in accounts if row is not None}
    wanted = {"types[]": [PERIOD_CLOSED, FUNDS_RECEIVED]}
    sent = await client.get("/api/v1/notifications", params=wanted, headers=_auth(tokens[ann]))
    assert _types(sent) == [PERIOD_CLOSED]
    details = sent.json()[0]["likewise"]
    assert details["period"] == "2026-10" and details["clicks"] == 2
    assert details["amount"] == {"value": "500", "currency": "EUR", "scale": 2}
    arrived = await client.get("/api/v1/notifications", params=wanted, headers=_auth(tokens[cat]))
    assert _types(arrived) == [FUNDS_RECEIVED]
    assert arrived.json()[0]["likewise"]["amount"]["value"] == "250"
    plain = await client.get("/api/v1/notifications", headers=_auth(tokens[ann]))
    assert _types(plain) == []


async def test_blocked_and_muted_accounts_are_not_heard(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    token = await _token(alpha, "carol")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 1, status["uri"]))
    dave = await make_token(alpha, await make_account(alpha, "dave"))
    await _post(network, dave, f"/api/v1/statuses/{status['id']}/favourite")
    path = "/api/v1/notifications"
    listed = (await _get(network, token, path)).json()
    dave_id, bob = (item["account"]["id"] for item in listed)  # newest first
    assert bob.startswith("r") and dave_id.isdigit()
    # Muting dave without his notifications keeps them; with them, hides them
    async with network.client("alpha.test") as http:
        auth = {"Authorization": f"Bearer {token}"}
        kept = await http.post(
            f"/api/v1/accounts/{dave_id}/mute", json={"notifications": False}, headers=auth
        )
        assert kept.status_code == 200, kept.text
        assert len(_types(await _get(network, token, path))) == 2
        await http.post(f"/api/v1/accounts/{dave_id}/mute", headers=auth)
        assert [n["account"]["id"] for n in (await _get(network, token, path)).json()] == [bob]
        # Blocking bob's server leaves nothing
        blocked = await http.post(
            "/api/v1/domain_blocks", data={"domain": "mastodon.test"}, headers=auth
        )
        assert blocked.status_code == 200, blocked.text
    assert _types(await _get(network, token, path)) == []
    assert (await _get(network, token, f"{path}/unread_count")).json() == {"count": 0}
