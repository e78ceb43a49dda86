"""Remote interaction pages, the web like button and profile pages."""

from __future__ import annotations

from urllib.parse import quote

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Click, Follow, NoteLike
from tests.support.accounts import csrf_from, log_in, make_account, make_token
from tests.support.inbox import drain, post_note
from tests.support.network import Network


async def test_authorize_interaction_likes_and_follows_a_remote_object(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    status = await post_note(alpha, network)
    await make_account(beta, "dave")
    async with network.client("beta.test") as browser:
        await log_in(browser, "dave")
        page = await browser.get(f"/authorize_interaction?uri={quote(status['uri'])}")
        assert "hello fediverse" in page.text
        liked = await browser.post(
            "/authorize_interaction",
            data={"uri": status["uri"], "action": "like", "csrf_token": csrf_from(page.text)},
        )
        assert liked.status_code == 303
        actor_page = await browser.get("/authorize_interaction?uri=http://alpha.test/users/carol")
        followed = await browser.post(
            "/authorize_interaction",
            data={
                "uri": "http://alpha.test/users/carol",
                "action": "follow",
                "csrf_token": csrf_from(actor_page.text),
            },
        )
        assert followed.status_code == 303
    await drain(alpha, beta)
    async with context(alpha).db.session() as session:
        assert len((await session.exec(select(NoteLike))).all()) == 1
        assert (await session.exec(select(Follow))).one().state == "accepted"


async def test_like_from_your_instance_redirects_to_the_visitors_server(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    status = await post_note(alpha, network)
    await make_account(beta, "dave")
    async with network.client("alpha.test") as browser:
        page = await browser.get(f"/@carol/{status['id']}")
        assert "Like from your instance" in page.text
        sent = await browser.post(
            "/remote_interaction",
            data={
                "handle": "dave@beta.test",
                "uri": status["uri"],
                "csrf_token": csrf_from(page.text),
            },
        )
    assert sent.status_code == 303
    assert sent.headers["location"] == (
        f"http://beta.test/authorize_interaction?uri={quote(status['uri'], safe='')}"
    )


async def test_the_web_like_button_records_a_web_click(alpha: Starlette, network: Network) -> None:
    status = await post_note(alpha, network)
    erin = await make_account(alpha, "erin")
    async with network.client("alpha.test") as browser:
        await log_in(browser, "erin")
        page = await browser.get(f"/@carol/{status['id']}")
        liked = await browser.post(
            f"/@carol/{status['id']}/like", data={"csrf_token": csrf_from(page.text)}
        )
        after = await browser.get(f"/@carol/{status['id']}")
        profile = await browser.get("/users/carol", headers={"Accept": "text/html"})
        support = await browser.get("/@carol/support")
    assert liked.status_code == 303
    assert "1 like" in after.text and "Unlike" in after.text
    assert "hello fediverse" in profile.text
    assert support.status_code == 200 and "EUR" in support.text
    async with context(alpha).db.session() as session:
        clicks = (await session.exec(select(Click))).all()
    assert [(c.donor_id, c.source) for c in clicks] == [(erin.id, "web")]


async def test_a_post_the_visitor_may_not_see_is_neither_shown_nor_liked_by_its_address(
    alpha: Starlette, network: Network
) -> None:
    # Given carol's followers-only post, and erin, who does not follow her
    carol = await make_account(alpha, "carol")
    token = await make_token(alpha, carol)
    await make_account(alpha, "erin")
    async with network.client("alpha.test") as browser:
        posted = await browser.post(
            "/api/v1/statuses",
            data={"status": "for my followers only", "visibility": "private"},
            headers={"Authorization": f"Bearer {token}"},
        )
        status = posted.json()
        await log_in(browser, "erin")
        # When erin opens it by its address, and tries to like it with a form of her own
        home = await browser.get("/authorize_interaction?uri=http://alpha.test/users/carol")
        page = await browser.get(f"/authorize_interaction?uri={quote(status['uri'])}")
        by_url = await browser.get(f"/authorize_interaction?uri={quote(status['url'])}")
        liked = await browser.post(
            "/authorize_interaction",
            data={"uri": status["uri"], "action": "like", "csrf_token": csrf_from(home.text)},
        )
        # And follows carol, of this instance, by her profile's address
        followed = await browser.post(
            "/authorize_interaction",
            data={
                "uri": "http://alpha.test/@carol",
                "action": "follow",
                "csrf_token": csrf_from(home.text),
            },
        )
    # Then the post is not found either way, no like is recorded, and the follow holds
    assert page.status_code == by_url.status_code == liked.status_code == 404
    assert "for my followers only" not in page.text + by_url.text
    assert followed.status_code == 303, followed.text
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(NoteLike))).all() == []
        assert (await session.exec(select(Follow))).one().state == "accepted"
