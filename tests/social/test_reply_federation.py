"""Two instances in one process: a reply, a mention and a reblog made on beta reach the
author on alpha, where the reply is threaded under the post, the mention names her, and
the reblog is counted (until it is undone)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Note
from tests.support.accounts import bearer
from tests.support.inbox import drain
from tests.support.network import Network


async def test_reply_mention_and_reblog_reach_the_author(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given carol's post on alpha, found by dave on beta
    carol = await bearer(alpha, "carol", "read write follow")
    dave = await bearer(beta, "dave", "read write follow")
    async with network.client("alpha.test") as http:
        posted: dict[str, Any] = (
            await http.post("/api/v1/statuses", json={"status": "first"}, headers=carol)
        ).json()
    async with network.client("beta.test") as http:
        found = await http.get(
            "/api/v2/search", params={"q": posted["uri"], "resolve": "true"}, headers=dave
        )
        here = found.json()["statuses"][0]["id"]
        # When dave replies to it, mentioning her, and reblogs it
        reply = await http.post(
            "/api/v1/statuses",
            json={"status": "@carol@alpha.test well said", "in_reply_to_id": here},
            headers=dave,
        )
        reblogged = await http.post(f"/api/v1/statuses/{here}/reblog", headers=dave)
    assert reply.status_code == 200, reply.text
    assert reblogged.status_code == 200, reblogged.text
    answer = reply.json()
    assert answer["in_reply_to_id"] == here
    assert answer["mentions"][0]["acct"] == "carol@alpha.test"
    await drain(alpha, beta)
    # Then on alpha the reply sits under carol's post, mentioning her
    async with network.client("alpha.test") as http:
        thread = (await http.get(f"/api/v1/statuses/{posted['id']}/context")).json()
        counted = (await http.get(f"/api/v1/statuses/{posted['id']}")).json()
        sharers = (await http.get(f"/api/v1/statuses/{posted['id']}/reblogged_by")).json()
    [below] = thread["descendants"]
    assert below["uri"] == answer["uri"]
    assert below["in_reply_to_id"] == posted["id"]
    assert below["mentions"][0]["acct"] == "carol"
    assert counted["replies_count"] == 1
    # And the reblog is counted, by dave
    assert counted["reblogs_count"] == 1
    assert [a["acct"] for a in sharers] == ["dave@beta.test"]
    async with context(alpha).db.session() as session:
        stored = (await session.exec(select(Note).where(Note.uri == answer["uri"]))).one()
    assert stored.in_reply_to == posted["uri"]
    # When dave undoes the reblog, alpha no longer counts it
    async with network.client("beta.test") as http:
        await http.post(f"/api/v1/statuses/{here}/unreblog", headers=dave)
    await drain(alpha, beta)
    async with network.client("alpha.test") as http:
        counted = (await http.get(f"/api/v1/statuses/{posted['id']}")).json()
    assert counted["reblogs_count"] == 0
