"""A page of statuses is read in a fixed number of queries (server/social/status_batch.py):
each status on a page reads exactly as it does alone, whatever its neighbours hold."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from server.context import context
from server.donations.budget import update_donor_settings
from server.money.funding import Funding, credit_wallet
from tests.support.statuses import follow_locally, post_status, user_with_token


async def test_a_home_page_reads_as_each_status_alone(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given dave, a donor with a budget, who follows carol and erin
    settings = context(app).settings
    dave_account, dave = await user_with_token(app, "dave")
    carol_account, carol = await user_with_token(app, "carol")
    erin_account, erin = await user_with_token(app, "erin")
    async with context(app).db.transaction() as session:
        await credit_wallet(session, settings, Funding(dave_account.id or 0, 1000, "seed"))
        await update_donor_settings(session, settings, dave_account.id or 0, monthly_budget=700)
    for followee in (carol_account, erin_account):
        await follow_locally(app, dave_account, followee)
    # And posts with tags, mentions, replies, likes, a reblog and a bookmark between them
    first = await post_status(client, carol, status="#hello @erin and @dave, #World")
    second = await post_status(client, erin, status="a reply to @carol", in_reply_to_id=first)
    third = await post_status(client, carol, status="plain words", spoiler_text="cw")
    fourth = await post_status(client, erin, status="to @carol alone", visibility="direct")
    for status_id in (first, third):
        await client.post(f"/api/v1/statuses/{status_id}/favourite", headers=dave)
    await client.post(f"/api/v1/statuses/{second}/favourite", headers=carol)
    await client.post(f"/api/v1/statuses/{third}/reblog", headers=erin)
    await client.post(f"/api/v1/statuses/{second}/bookmark", headers=dave)
    await post_status(client, dave, status="my own")
    # When dave reads his home timeline
    page = await client.get("/api/v1/timelines/home", headers=dave)
    assert page.status_code == 200, page.text
    statuses = page.json()
    # Then it holds what he may see (not erin's direct post to carol), newest first
    ids = [status["id"] for status in statuses]
    assert fourth not in ids and {first, second, third} <= set(ids)
    assert ids == sorted(ids, key=int, reverse=True)
    # And each status reads on the page as it reads alone
    for status in statuses:
        alone = await client.get(f"/api/v1/statuses/{status['id']}", headers=dave)
        assert status == alone.json()
    by_id = {status["id"]: status for status in statuses}
    assert [tag["name"] for tag in by_id[first]["tags"]] == ["hello", "world"]
    assert [m["acct"] for m in by_id[first]["mentions"]] == ["erin", "dave"]
    assert by_id[first]["replies_count"] == 1 and by_id[first]["favourited"] is True
    assert by_id[second]["bookmarked"] is True and by_id[second]["favourites_count"] == 1
    reblog = next(s for s in statuses if s["reblog"] is not None)
    assert reblog["reblog"]["id"] == third and reblog["reblog"]["reblogs_count"] == 1
    # And the projected shares split the pot over his two likes (the first takes the rest)
    pot = 700 - 700 * settings.fee_bps // 10_000
    shares = {
        key: by_id[key]["likewise"]["projected_share"]["amount"] for key in (first, second, third)
    }
    assert shares == {first: pot // 2 + pot % 2, second: pot // 3, third: pot // 2}
    assert by_id[ids[0]]["likewise"]["projected_share"] is None  # his own post
