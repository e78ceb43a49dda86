"""A profile page: the avatar, the bio as written (escaped once), the number of supporters
here, and each post as a card with its like count."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from server.context import context
from tests.support.accounts import csrf_from, log_in, make_account, make_token, post_status
from tests.support.ledger import donor


async def test_a_profile_shows_avatar_bio_supporters_and_like_counts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given cat's bio and two posts, one liked by dora and erin
    db, settings = context(app).db, context(app).settings
    cat = await make_account(app, "cat")
    auth = {"Authorization": f"Bearer {await make_token(app, cat)}"}
    patched = await client.patch(
        "/api/v1/accounts/update_credentials", data={"note": "Zines & <songs>"}, headers=auth
    )
    assert patched.status_code == 200, patched.text
    liked = await post_status(client, auth, status="Liked twice")
    await post_status(client, auth, status="Not liked yet")
    for name in ("dora", "erin"):
        await donor(db, settings, name, funds=1000)
        await log_in(client, name)
        page = await client.get(f"/@cat/{liked['id']}")
        form = {"csrf_token": csrf_from(page.text)}
        assert (await client.post(f"/@cat/{liked['id']}/like", data=form)).status_code == 303
        client.cookies.clear()
    # When a visitor opens her profile
    page = await client.get("/@cat", headers={"accept": "text/html"})
    # Then it shows all of it
    assert page.status_code == 200
    assert '<img class="avatar" src="http://likewise.test/static/avatar.png"' in page.text
    assert '<div class="summary bio"><p>Zines &amp; &lt;songs&gt;</p></div>' in page.text
    assert '<p class="supporters"><strong>2</strong> supporters on Likewise</p>' in page.text
    cards = re.findall(r'<article class="note card">(.*?)</article>', page.text, re.S)
    likes = [re.search(r'<span class="likes">([^<]+)</span>', card) for card in cards]
    assert [m.group(1) for m in likes if m] == ["0 likes", "2 likes"]
