"""`/tags/<name>`, where a tag's `url` in the client API leads: a public page of the
public posts with the tag (local and remote, newest first, paged), readable on a phone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page
from starlette.applications import Starlette

from server.context import context
from server.models import Actor, Note, NoteTag
from tests.support.accounts import bearer, post_status
from tests.support.instances import LiveInstance

# Nothing on the page, its header included, reaches past a phone's width.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 390)
  .map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 5).join(' ')"""


async def _remote_tagged(app: Starlette, tag: str) -> None:
    """A public note by zoe on remote.test tagged `tag`, as the inbox caches one."""
    async with context(app).db.transaction() as session:
        zoe = Actor(
            uri="https://remote.test/users/zoe",
            username="zoe",
            domain="remote.test",
            name="<b>Zoe</b>",
            url="javascript:alert(1)",
        )
        session.add(zoe)
        await session.flush()
        note = Note(
            uri="https://remote.test/notes/1",
            url="https://remote.test/@zoe/1",
            author_id=zoe.id or 0,
            content=f"<p>from afar #{tag}</p>",
        )
        session.add(note)
        await session.flush()
        session.add(NoteTag(note_id=note.id or 0, name=tag))


async def test_a_tags_url_serves_its_public_posts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await bearer(app, "alice")
    await _remote_tagged(app, "gardening")
    # Given alice's public, unlisted and private posts tagged #gardening
    shown = await post_status(client, alice, status="Tomato tips #Gardening")
    await post_status(client, alice, status="quiet #gardening", visibility="unlisted")
    await post_status(client, alice, status="secret #gardening", visibility="private")
    await post_status(client, alice, status="#other things")
    # When someone follows the tag's url from the status
    tag = shown["tags"][0]
    assert tag["url"] == "http://likewise.test/tags/gardening"
    page = await client.get(urlsplit(tag["url"]).path)
    # Then the page lists the public posts, local and remote, newest first
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<h1>#gardening</h1>" in text
    assert text.index("Tomato tips") < text.index("from afar")
    assert f'href="/@alice/{shown["id"]}"' in text and 'href="/@alice"' in text
    assert 'href="https://remote.test/@zoe/1"' in text and "@zoe@remote.test" in text
    for hidden in ("quiet", "secret", "other things"):
        assert hidden not in text, hidden
    # And another server's words are text, its odd links left out
    assert "&lt;b&gt;Zoe&lt;/b&gt;" in text and "javascript:" not in text
    # The same page by the name's other case; an unknown tag is an empty page
    assert "Tomato tips" in (await client.get("/tags/GARDENING")).text
    empty = await client.get("/tags/nothinghere")
    assert empty.status_code == 200 and "No public posts with #nothinghere yet." in empty.text
    # A name that is no hashtag, or a bad cursor: clear 4xx pages
    assert (await client.get("/tags/bad-name")).status_code == 404
    assert (await client.get("/tags/gardening", params={"max_id": "x"})).status_code == 400


async def test_a_tag_page_pages_twenty_at_a_time(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await bearer(app, "alice")
    posted = [await post_status(client, alice, status=f"post {n} #many") for n in range(22)]
    first = (await client.get("/tags/many")).text
    assert "post 21 " in first and "post 2 " in first and "post 1 " not in first
    older = f'href="/tags/many?max_id={posted[2]["id"]}"'
    assert older in first
    second = (await client.get(f"/tags/many?max_id={posted[2]['id']}")).text
    assert "post 1 " in second and "post 0 " in second and "post 2 " not in second
    assert "Older posts" not in second


async def test_a_tag_page_fits_a_phone(instances: Callable[..., LiveInstance], page: Page) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "gardener_with_a_long_name", "--email", "g@example.org",
        "--password", "correct horse",
    )  # fmt: skip
    token = instance.cli(
        "tokens", "create", "gardener_with_a_long_name", "--scopes", "write"
    ).stdout.strip()
    long_url = "https://example.org/" + "a-very-long-path-segment/" * 8
    async with httpx.AsyncClient(base_url=instance.base_url, timeout=30) as http:
        for text in (
            f"See {long_url} #gardening",
            "Shortwordsonlyxxxxxxxxxxxxxxxxxxxxxxxxxxxxx #gardening",
        ):
            posted = await http.post(
                "/api/v1/statuses",
                data={"status": text, "spoiler_text": "garden talk"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert posted.status_code == 200, posted.text
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{instance.base_url}/tags/gardening")
    await asyncio.sleep(0)
    assert await page.locator("article.note").count() == 2
    wide = await page.evaluate(WIDEST)
    assert wide == "", f"the tag page is wider than 390 px: {wide}"
