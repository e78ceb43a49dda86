"""A note's like button says what a like counts for: not counted while the budget is
paused (and counted once liked again after resuming), liked in an earlier month (and
liked again this month), or one's own post, which never counts."""

from __future__ import annotations

import calendar

import httpx
from sqlalchemy import update
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.donations.budget import update_donor_settings
from server.donations.periods import period_of, previous_period
from server.models import Account, Click
from server.models.base import utcnow
from tests.support.accounts import bearer, csrf_from, log_in, make_account, post_status

PAUSED = "Your budget is paused: this like is not counted and gives no money."
OWN = "liking your own work never counts"
AGAIN = "Like again this month"


async def _post(app: Starlette, client: httpx.AsyncClient) -> str:
    """carol's public post: its page's path."""
    status = await post_status(client, await bearer(app, "carol"), status="my first song")
    return f"/@carol/{status['id']}"


async def _like(client: httpx.AsyncClient, path: str, *, undo: bool = False) -> None:
    page = await client.get(path)
    form = {"csrf_token": csrf_from(page.text), **({"undo": "1"} if undo else {})}
    assert (await client.post(f"{path}/like", data=form)).status_code == 303


async def _paused(app: Starlette, account: Account, paused: bool) -> None:
    async with context(app).db.transaction() as session:
        await update_donor_settings(session, context(app).settings, account.id or 0, paused=paused)


async def _clicks(app: Starlette) -> list[tuple[int, str]]:
    async with context(app).db.session() as session:
        rows = await session.exec(select(Click.donor_id, Click.period).order_by(Click.period))
        return [(donor, period) for donor, period in rows.all()]


def _text(page: httpx.Response) -> str:
    return " ".join(page.text.split())


async def test_a_like_while_paused_says_it_is_not_counted_until_liked_again(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given erin, whose budget is paused, likes carol's post
    path = await _post(app, client)
    erin = await make_account(app, "erin")
    await _paused(app, erin, True)
    await log_in(client, "erin")
    await _like(client, path)
    # Then the page says the like is not counted, and no click was recorded
    paused = _text(await client.get(path))
    assert PAUSED in paused
    assert 'href="/money">Resume your budget</a>, then like it again this month' in paused
    assert await _clicks(app) == []
    # When she resumes her budget
    await _paused(app, erin, False)
    resumed = _text(await client.get(path))
    # Then the page says her like is still not counted, and offers to like it again
    assert PAUSED not in resumed
    assert "Liked, but not counted — like again to count it this month" in resumed
    assert f">{AGAIN}</button>" in resumed
    # And liking it again counts it for this month
    await _like(client, path)
    assert await _clicks(app) == [(erin.id, period_of(utcnow()))]
    counted = _text(await client.get(path))
    assert AGAIN not in counted and ">Unlike</button>" in counted


async def test_a_like_of_last_month_says_so_and_likes_again_this_month(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given erin liked carol's post, and her click was last month's
    path = await _post(app, client)
    erin = await make_account(app, "erin")
    await log_in(client, "erin")
    await _like(client, path)
    last = previous_period(period_of(utcnow()))
    async with context(app).db.transaction() as session:
        await session.exec(update(Click).values(period=last))
    # When she opens the post this month
    page = _text(await client.get(path))
    # Then it says when she liked it, and that she may like it again
    month = calendar.month_name[int(last.split("-")[1])]
    assert f"Liked in {month}" in page and "— like again this month" in page
    assert f">{AGAIN}</button>" in page
    # And liking it again counts it this month too, one like a month
    await _like(client, path)
    await _like(client, path)
    assert await _clicks(app) == [(erin.id, last), (erin.id, period_of(utcnow()))]
    after = _text(await client.get(path))
    assert AGAIN not in after and "Liked in" not in after
    assert ">1 like</span>" in after and ">Unlike</button>" in after


async def test_a_like_of_ones_own_post_says_it_never_counts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given carol, logged in, on her own post
    path = await _post(app, client)
    await log_in(client, "carol")
    before = _text(await client.get(path))
    assert OWN in before
    # When she likes it
    await _like(client, path)
    # Then the page says her own work never counts, offers nothing to count, records nothing
    after = _text(await client.get(path))
    assert OWN in after and AGAIN not in after
    assert await _clicks(app) == []


async def test_a_counted_like_shows_no_notes(app: Starlette, client: httpx.AsyncClient) -> None:
    path = await _post(app, client)
    await make_account(app, "erin")
    await log_in(client, "erin")
    await _like(client, path)
    page = _text(await client.get(path))
    assert ">Unlike</button>" in page
    assert AGAIN not in page and OWN not in page and "paused" not in page


async def test_the_button_page_says_a_paused_like_is_not_counted(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    erin = await make_account(app, "erin")
    await _paused(app, erin, True)
    await log_in(client, "erin")
    url = "https://blog.example/post-1"
    page = await client.get("/button", params={"url": url})
    pressed = await client.post(
        "/button/like", data={"url": url, "csrf_token": csrf_from(page.text)}
    )
    liked = await client.get(pressed.headers["location"])
    assert PAUSED in _text(liked)
    assert await _clicks(app) == []
