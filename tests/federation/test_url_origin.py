"""Who a liked URL belongs to is decided by the URL's own origin. A remote actor, mallory on
evil.test, sends a signed Create(Note) whose `url` names a page she does not serve (bob's
profile here, a post of bob's not written yet, someone's web page, a post on a third
server); donors then like that page through the money API and the embeddable button. The
likes go to bob, to the site, to the third server's author, never to mallory, and her
claim of her account from an account here collects nothing to pay out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON
from activitypub.signatures import sign_request
from server.context import context
from server.donations.close import close_period
from server.models import Account, Click, Identity, Note, Thing
from tests.support.accounts import csrf_from, log_in, make_account, make_token
from tests.support.ledger import assert_books_balance, donor
from tests.support.mastodon import STATUS_ID, FakeMastodonServer, field_link
from tests.support.network import Network
from tests.support.payloads import load_text

AS = "https://www.w3.org/ns/activitystreams"
ALPHA = "http://alpha.test"
INBOX = f"{ALPHA}/inbox"
BOB = f"{ALPHA}/users/bob"
MALLORY = "http://evil.test/users/mallory"
PAGE = "https://site.example/page"
CAROL_POST = f"http://third.test/users/carol/statuses/{STATUS_ID}"
PAYOUT = {"amount": "10.00", "iban": "DE89370400440532013000", "name": "Mallory"}

Creator = tuple[str, str, str]  # (network, external id, thing URI) of a click


@pytest.fixture
def evil(network: Network) -> FakeMastodonServer:
    """mallory's server; her profile links to an account of hers here (so she may claim)."""
    server = FakeMastodonServer("evil.test")
    server.add("mallory", ("Likewise", field_link(f"{ALPHA}/@mallory")))
    network.apps[server.host] = server.app()
    return server


@pytest.fixture
def third(network: Network) -> FakeMastodonServer:
    server = FakeMastodonServer("third.test")
    server.add("carol")
    network.apps[server.host] = server.app()
    return server


@pytest.fixture
def site(network: Network) -> None:
    async def page(_: Request) -> Response:
        return HTMLResponse("<p>a page of site.example</p>")

    network.apps["site.example"] = Starlette(routes=[Route("/page", page)])


@pytest.fixture
async def api(alpha: Starlette, network: Network) -> AsyncIterator[httpx.AsyncClient]:
    async with network.client("alpha.test") as client:
        yield client


def _signed(server: FakeMastodonServer, activity: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(activity).encode()
    key_id = f"{server.actor('mallory')}#main-key"
    private_pem = load_text("ap_rsa_private.pem")
    headers = sign_request(
        "POST", INBOX, {"Content-Type": ACTIVITY_JSON}, body, key_id, private_pem
    )
    return body, headers


async def _create(
    alpha: Starlette,
    api: httpx.AsyncClient,
    evil: FakeMastodonServer,
    n: int,
    url: str,
    kind: str = "Create",
) -> str:
    """mallory's server delivers (Create or Update) a public note of hers whose `url` is
    `url`; its id."""
    note_id = f"{MALLORY}/statuses/{n}"
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": MALLORY,
        "url": url,
        "content": f"<p>mine, honestly ({n})</p>",
        "published": "2026-12-01T10:00:00Z",
        "to": [f"{AS}#Public"],
        "cc": [f"{MALLORY}/followers"],
    }
    activity = {
        "@context": AS,
        "id": f"{note_id}/{kind.lower()}",
        "type": kind,
        "actor": MALLORY,
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }
    body, headers = _signed(evil, activity)
    answer = await api.post("/inbox", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    await context(alpha).worker.drain()
    return note_id


async def _stored_url(alpha: Starlette, uri: str) -> str:
    async with context(alpha).db.session() as session:
        url: str = (await session.exec(select(Note.url).where(Note.uri == uri))).one()
        return url


async def _bearer(alpha: Starlette, account_id: int) -> dict[str, str]:
    async with context(alpha).db.session() as session:
        account = await session.get_one(Account, account_id)
    return {"Authorization": f"Bearer {await make_token(alpha, account)}"}


async def _post_as(alpha: Starlette, api: httpx.AsyncClient, account_id: int) -> dict[str, Any]:
    answer = await api.post(
        "/api/v1/statuses", data={"status": "a post"}, headers=await _bearer(alpha, account_id)
    )
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


async def _like_by_api(
    alpha: Starlette, api: httpx.AsyncClient, account_id: int, url: str
) -> httpx.Response:
    headers = await _bearer(alpha, account_id)
    return await api.post("/api/v1/likewise/likes", json={"uri": url}, headers=headers)


async def _like_by_button(network: Network, username: str, url: str) -> httpx.Response:
    async with network.client("alpha.test") as browser:
        assert (await log_in(browser, username)).status_code == 303
        page = await browser.get("/button", params={"url": url})
        pressed = await browser.post(
            "/button/like", data={"url": url, "csrf_token": csrf_from(page.text)}
        )
        # The like answers with a redirect back to the button page, which tells what it did
        assert pressed.status_code == 303, pressed.text
        return await browser.get(pressed.headers["location"])


async def _clicked(alpha: Starlette, donor_id: int) -> list[Creator]:
    async with context(alpha).db.session() as session:
        rows = await session.exec(
            select(Identity.network, Identity.external_id, Thing.uri)
            .join(Thing, col(Thing.identity_id) == col(Identity.id))
            .join(Click, col(Click.thing_id) == col(Thing.id))
            .where(Click.donor_id == donor_id)
        )
        return [(network, external_id, uri) for network, external_id, uri in rows.all()]


async def _mallory_collects(alpha: Starlette, api: httpx.AsyncClient) -> tuple[str, int]:
    """The month is closed; mallory claims her account from one here (her profile links to
    it) and asks for a payout: (amount the claim moved, payout answer's status)."""
    db, settings = context(alpha).db, context(alpha).settings
    async with db.session() as session:
        periods = set((await session.exec(select(Click.period))).all())
    for period in sorted(periods):
        await close_period(db, settings, period, force=True)
    mallory = int((await make_account(alpha, "mallory")).id or 0)
    headers = await _bearer(alpha, mallory)
    claim = await api.post(
        "/api/v1/likewise/claims", json={"actor": "@mallory@evil.test"}, headers=headers
    )
    assert claim.status_code == 200, claim.text
    assert claim.json()["external_id"] == MALLORY
    payout = await api.post("/api/v1/likewise/payouts", json=PAYOUT, headers=headers)
    return claim.json()["moved"]["value"], payout.status_code


def _expected(target: str, url: str, bobs_post: str) -> Creator:
    if target == "profile":
        return ("fediverse", BOB, url)
    if target == "future post":
        return ("fediverse", BOB, bobs_post)
    if target == "web page":
        return ("web", "https://site.example", url)
    # A post on a third server, not cached here when dan likes it: its site's web identity
    # (the thing keeps the creator it was first recorded with)
    return ("web", "http://third.test", url)


TARGETS = {"profile": f"{ALPHA}/@bob", "web page": PAGE, "third origin": CAROL_POST}


@pytest.mark.parametrize("target", ["profile", "future post", "web page", "third origin"])
async def test_a_note_naming_a_page_it_does_not_serve_takes_none_of_its_likes(
    alpha: Starlette,
    network: Network,
    api: httpx.AsyncClient,
    evil: FakeMastodonServer,
    third: FakeMastodonServer,
    site: None,
    target: str,
) -> None:
    db, settings = context(alpha).db, context(alpha).settings
    bob = await donor(db, settings, "bob")
    ann = await donor(db, settings, "ann", funds=5000, budget=1200)
    dan = await donor(db, settings, "dan", funds=5000, budget=1200)
    # Given mallory's note naming the target page as its url (for a future post of bob's,
    # the id his next post will have: hers takes the one before)
    url = TARGETS.get(target, "")
    if target == "future post":
        latest = int((await _post_as(alpha, api, bob))["id"])
        url = f"{ALPHA}/@bob/{latest + 2}"
    attack = await _create(alpha, api, evil, 1, url)
    # Then it is stored without that url: its id is its address
    assert await _stored_url(alpha, attack) == attack
    bobs_post = ""
    if target == "future post":
        post = await _post_as(alpha, api, bob)
        assert post["url"] == url
        bobs_post = post["uri"]
    # When dan likes the page with the button, and then ann through the money API
    pressed = await _like_by_button(network, "dan", url)
    assert pressed.status_code == 200 and "Liked." in pressed.text, pressed.text
    liked = await _like_by_api(alpha, api, ann, url)
    assert liked.status_code == 201, liked.text
    # Then each like went to the page's own origin, not to mallory
    expected = _expected(target, url, bobs_post)
    assert await _clicked(alpha, dan) == [expected]
    assert await _clicked(alpha, ann) == [expected]
    # And once the month is closed, mallory's claim moves nothing and her payout is refused
    assert await _mallory_collects(alpha, api) == ("0", 409)
    await assert_books_balance(db)


async def test_a_note_cached_before_the_rule_still_takes_no_likes_of_a_page_elsewhere(
    alpha: Starlette, network: Network, api: httpx.AsyncClient, evil: FakeMastodonServer
) -> None:
    # Given mallory's note, cached with bob's profile as its url before the rule (and
    # before migration 0010 ran), and bob's post whose page another of hers names
    db, settings = context(alpha).db, context(alpha).settings
    bob = await donor(db, settings, "bob")
    dan = await donor(db, settings, "dan", funds=5000, budget=1200)
    post = await _post_as(alpha, api, bob)
    for n, url in enumerate((f"{ALPHA}/@bob", post["url"]), start=1):
        note = await _create(alpha, api, evil, n, f"http://evil.test/@mallory/{n}")
        async with db.transaction() as session:
            await session.exec(update(Note).where(col(Note.uri) == note).values(url=url))
    # When dan likes both pages
    for url in (f"{ALPHA}/@bob", post["url"]):
        assert "Liked." in (await _like_by_button(network, "dan", url)).text
    # Then both likes are bob's: a local page names only local things
    assert sorted(await _clicked(alpha, dan)) == [
        ("fediverse", BOB, f"{ALPHA}/@bob"),
        ("fediverse", BOB, post["uri"]),
    ]


async def test_a_note_is_liked_by_its_page_on_its_own_origin(
    alpha: Starlette, network: Network, api: httpx.AsyncClient, evil: FakeMastodonServer
) -> None:
    # Given mallory's note whose page is on her own server
    db, settings = context(alpha).db, context(alpha).settings
    ann = await donor(db, settings, "ann", funds=5000, budget=1200)
    dan = await donor(db, settings, "dan", funds=5000, budget=1200)
    page = "http://evil.test/@mallory/1"
    note = await _create(alpha, api, evil, 1, page)
    assert await _stored_url(alpha, note) == page
    # When dan likes that page with the button and ann through the money API
    assert "Liked." in (await _like_by_button(network, "dan", page)).text
    assert (await _like_by_api(alpha, api, ann, page)).status_code == 201
    # Then both likes are hers, on her note
    assert await _clicked(alpha, dan) == [("fediverse", MALLORY, note)]
    assert await _clicked(alpha, ann) == [("fediverse", MALLORY, note)]
    # And an Update moving its url elsewhere drops the url (its id is its address again)
    await _create(alpha, api, evil, 1, f"{ALPHA}/@bob", kind="Update")
    assert await _stored_url(alpha, note) == note


@dataclass
class ImpostorServer(FakeMastodonServer):
    """Serves its actors with bob's profile here as their `url`."""

    def document(self, name: str) -> dict[str, Any]:
        document = super().document(name)
        document["url"] = f"{ALPHA}/@bob"
        return document


async def test_an_actor_naming_a_profile_elsewhere_as_its_own_gets_neither_its_likes_nor_its_link(
    alpha: Starlette, network: Network, api: httpx.AsyncClient
) -> None:
    # Given mallory, whose actor says bob's profile here is hers, and a note of hers
    impostor = ImpostorServer("evil.test")
    impostor.add("mallory")
    network.apps[impostor.host] = impostor.app()
    db, settings = context(alpha).db, context(alpha).settings
    await donor(db, settings, "bob")
    dan = await donor(db, settings, "dan", funds=5000, budget=1200)
    note = await _create(alpha, api, impostor, 1, "http://evil.test/@mallory/1")
    # When dan likes bob's profile and mallory's note
    for url in (f"{ALPHA}/@bob", note):
        assert "Liked." in (await _like_by_button(network, "dan", url)).text
    # Then the profile's like is bob's, and mallory's identity links to nothing here
    assert sorted(await _clicked(alpha, dan)) == [
        ("fediverse", BOB, f"{ALPHA}/@bob"),
        ("fediverse", MALLORY, note),
    ]
    async with db.session() as session:
        found = await session.exec(select(Identity).where(Identity.external_id == MALLORY))
        assert found.one().profile_url in ("", MALLORY)


USERINFO = "http://evil.test@alpha.test/@bob"


async def test_a_url_with_a_user_name_is_refused(
    alpha: Starlette, network: Network, api: httpx.AsyncClient, third: FakeMastodonServer
) -> None:
    db, settings = context(alpha).db, context(alpha).settings
    ann = await donor(db, settings, "ann", funds=5000, budget=1200)
    await donor(db, settings, "dan", funds=5000, budget=1200)
    # When ann likes URLs with a user name through the money API (one of them a post that
    # could be fetched)
    for url in (USERINFO, CAROL_POST.replace("http://", "http://evil.test@")):
        answer = await _like_by_api(alpha, api, ann, url)
        # Then they are refused, saying why
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "uri"
        assert "without a user name" in answer.json()["error"]
    # And so is it through the button, shown or pressed
    async with network.client("alpha.test") as browser:
        assert (await log_in(browser, "dan")).status_code == 303
        shown = await browser.get("/button", params={"url": USERINFO})
        assert shown.status_code == 422 and "without a user name" in shown.text
        form = await browser.get("/button", params={"url": PAGE})
        pressed = await browser.post(
            "/button/like", data={"url": USERINFO, "csrf_token": csrf_from(form.text)}
        )
        assert pressed.status_code == 422 and "without a user name" in pressed.text
    # And nothing was recorded
    async with db.session() as session:
        assert (await session.exec(select(Click))).all() == []
        assert (await session.exec(select(Thing))).all() == []
