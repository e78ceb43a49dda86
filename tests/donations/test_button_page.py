"""The button page's like is a redirect back to the page, which says "Liked ✓" from then
on: reloading it, or sending the form again, does not like twice; the badge says a like is
a donation."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from server.context import context
from server.money.funding import Funding, credit_wallet
from tests.support.accounts import csrf_from, log_in, make_account

URL = "https://blog.example/post-1"


async def test_a_like_redirects_to_the_button_page_which_then_says_liked(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given ann, logged in with money in her wallet, on the button page of a post
    ann = await make_account(app, "ann")
    async with context(app).db.transaction() as session:
        await credit_wallet(session, context(app).settings, Funding(ann.id or 0, 2000, "seed"))
    await log_in(client, "ann")
    page = await client.get("/button", params={"url": URL})
    assert ">Like this</button>" in page.text and "Liked ✓" not in page.text
    form = {"url": URL, "csrf_token": csrf_from(page.text)}
    # When she likes it
    pressed = await client.post("/button/like", data=form)
    # Then the answer is a redirect to the button page, which says it once
    assert pressed.status_code == 303
    assert pressed.headers["location"] == "/button?url=https%3A%2F%2Fblog.example%2Fpost-1"
    shown = await client.get(pressed.headers["location"])
    assert "Liked ✓" in shown.text and "1 like from" in shown.text
    assert "It gets a share of your budget when the month closes." in shown.text
    assert ">Like this</button>" not in shown.text
    # When she reloads it, and when the form is sent again
    reloaded = await client.get(pressed.headers["location"])
    again = await client.post("/button/like", data=form)
    after = await client.get(again.headers["location"])
    # Then it still says liked, with one like: the outcome shows once, the like counts once
    assert "Liked ✓" in reloaded.text and "1 like from" in reloaded.text
    assert "It gets a share" not in reloaded.text
    assert "1 like from" in after.text and "You already liked this this month." in after.text


async def test_a_logged_out_visitor_is_offered_to_log_in_and_cannot_like(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/button", params={"url": URL})
    assert "Log in to like this" in page.text and "Liked ✓" not in page.text
    refused = await client.post("/button/like", data={"url": URL}, headers={"accept": "text/html"})
    assert refused.status_code in (401, 403)


async def test_the_badge_says_a_like_is_a_donation(client: httpx.AsyncClient) -> None:
    badge = await client.get("/button/badge.svg", params={"url": URL})
    assert badge.status_code == 200 and badge.headers["content-type"].startswith("image/svg")
    assert ">donate with a like</text><text" in badge.text
    assert 'aria-label="Donate with a like on Likewise: 0 likes so far"' in badge.text
