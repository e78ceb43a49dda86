"""The donor's money page names each liked thing by its title, or a post's first words,
or a short address, never a raw URL, beside its author."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from server.context import context
from tests.support.accounts import csrf_from, log_in, make_account, make_token, post_status
from tests.support.ledger import donor

LONG = "https://blog.example/2026/" + "a-very-long-path-segment/" * 4


async def test_the_thing_column_shows_first_words_and_the_author(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given cat's post, liked by dora on its page, and a long blog address liked by button
    db, settings = context(app).db, context(app).settings
    cat = await make_account(app, "cat")
    auth = {"Authorization": f"Bearer {await make_token(app, cat)}"}
    song = await post_status(client, auth, status="My first song about the sea and the rain")
    await donor(db, settings, "dora", funds=2000, budget=600)
    await log_in(client, "dora")
    page = await client.get(f"/@cat/{song['id']}")
    form = {"csrf_token": csrf_from(page.text)}
    assert (await client.post(f"/@cat/{song['id']}/like", data=form)).status_code == 303
    liked = await client.post("/button/like", data={**form, "url": LONG})
    assert liked.status_code == 303
    # When she opens her money page
    dashboard = await client.get("/money", headers={"accept": "text/html"})
    # Then each row names the thing in words, beside its author
    rows = re.findall(r'<tr class="click">(.*?)</tr>', dashboard.text, re.S)
    things = [re.search(r'<td class="thing"><a href="([^"]+)">([^<]+)</a>', row) for row in rows]
    found = [(m.group(1), m.group(2)) for m in things if m is not None]
    assert found == [
        (song["uri"], "My first song about the sea and the…"),
        (LONG, LONG.removeprefix("https://")[:59] + "…"),
    ]
    assert "@cat@likewise.test" in rows[0]
