"""TumblrNetwork over real HTTP against the fake Tumblr API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Credentials, NetworkConfig
from bridges.errors import (
    BadPayload,
    ConnectFailed,
    RateLimited,
    TokenExpired,
    TokenRevoked,
)
from bridges.registry import NetworkType
from bridges.tumblr import MAX_PAGES_PER_ROUND, TumblrNetwork, tumblr_wait
from tests.support import bridge_flows as flows
from tests.support.bridge_flows import read_round
from tests.support.fakes.server import serve
from tests.support.fakes.tumblr import FakeTumblr, TumblrControl, blog_uuid

REDIRECT = flows.redirect_for("tumblr")


@pytest.fixture
def tumblr() -> Iterator[tuple[FakeTumblr, str]]:
    fake = FakeTumblr()
    with serve(fake) as base:
        yield fake, base


def network(http: httpx.AsyncClient, base: str) -> TumblrNetwork:
    return TumblrNetwork(http, flows.config(base))


async def authorize(
    net: TumblrNetwork, http: httpx.AsyncClient, handle: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    return await flows.authorize(net, http, REDIRECT, handle)


async def connect(net: TumblrNetwork, http: httpx.AsyncClient) -> Connection:
    return await flows.connect(net, http, REDIRECT)


async def signed_in(http: httpx.AsyncClient, base: str) -> tuple[TumblrNetwork, Credentials]:
    """The network on the fake, and the donor's credentials after connecting."""
    net = network(http, base)
    return net, (await connect(net, http)).credentials


def test_the_class_is_a_registry_entry() -> None:
    entry: NetworkType = TumblrNetwork
    assert entry.is_configured(NetworkConfig(client_id="i", client_secret="s"))
    assert not entry.is_configured(NetworkConfig(client_secret="s"))


async def test_connect_reads_the_primary_blog(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    _, base = tumblr
    net = network(http, base)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert target.path == "/oauth2/authorize"
    assert query["scope"] == ["basic offline_access"]
    assert "code_challenge" not in query and "blog" not in start.pending
    connection = await connect(net, http)
    assert connection.account.external_id == blog_uuid("donor")
    assert connection.account.handle == "donor"
    assert connection.account.profile_url == "https://www.tumblr.com/donor"
    assert connection.credentials.refresh_token and connection.credentials.expires_at


async def test_a_creator_claims_a_blog_they_own_and_not_a_group_blog(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    with TumblrControl(base) as control:
        uuids = control.add_account("artist", ["artist", "sketches"])
    await http.post(f"{base}/_test/authorize_as", json={"user": "artist"})
    fake.accounts["artist"].member_of.append("collective")
    net = network(http, base)
    pending, callback = await authorize(net, http)
    assert (await net.verify_claim(pending, callback)).external_id == uuids[0]
    pending, callback = await authorize(net, http, "@Sketches")
    claimed = await net.verify_claim(pending, callback)
    assert (claimed.external_id, claimed.handle) == (uuids[1], "sketches")
    pending, callback = await authorize(net, http, uuids[1])
    assert (await net.verify_claim(pending, callback)).handle == "sketches"
    pending, callback = await authorize(net, http, "collective")
    with pytest.raises(ConnectFailed, match="not yours"):
        await net.verify_claim(pending, callback)
    pending, callback = await authorize(net, http, "someoneelse")
    with pytest.raises(ConnectFailed, match="not one of your"):
        await net.verify_claim(pending, callback)
    with pytest.raises(ConnectFailed, match="not a Tumblr blog"):
        await net.start_connect("../admin", REDIRECT, "s")


async def test_first_round_pages_back_then_only_newer_likes(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    # Given 45 liked posts (pages of 20, 20, 5)
    fake, base = tumblr
    made = [fake.like("donor") for _ in range(45)]
    net, credentials = await signed_in(http, base)
    # When the first round reads every page
    seen, keep = await read_round(net, credentials, None)
    # Then every like came once, newest first
    assert seen == [str(post.id) for post in reversed(made)]
    # When three more are liked, the next round sees only them
    with TumblrControl(base) as control:
        newer = [control.like("donor") for _ in range(3)]
    calls = fake.requests
    seen, keep = await read_round(net, credentials, keep)
    assert seen == [item["post_id"] for item in reversed(newer)]
    assert fake.requests == calls + 1
    # And a round with nothing new keeps its place
    assert await read_round(net, credentials, keep) == ([], keep)


async def test_likes_sharing_the_boundary_second_are_neither_lost_nor_repeated(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    # Given likes where the 20th and 21st (the page boundary) were in the same second
    fake, base = tumblr
    made = [fake.like("donor", at=1_733_000_000 + 60 * n) for n in range(25)]
    boundary = made[4].liked_at  # the 21st newest
    made += [fake.like("donor", at=boundary) for _ in range(3)]
    net, credentials = await signed_in(http, base)
    seen, _ = await read_round(net, credentials, None)
    assert sorted(seen) == sorted(str(post.id) for post in made)
    assert len(seen) == len(set(seen)) == 28


async def test_a_like_names_the_post_its_blog_and_when(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    post = fake.like("donor", blog="citriccomics")
    net, credentials = await signed_in(http, base)
    page = await net.list_likes(credentials, None)
    (like,) = page.likes
    assert like.like_id == like.item_id == str(post.id)
    assert like.item_url == f"https://www.tumblr.com/citriccomics/{post.id}"
    assert like.creator.external_id == blog_uuid("citriccomics")
    assert like.creator.handle == "citriccomics"
    assert like.liked_at == datetime.fromtimestamp(post.liked_at, UTC)
    assert like.title == f"Post {post.id} of citriccomics"
    assert page.rate is not None and page.rate.limit == 1000
    assert await net.resolve_item(credentials, like.item_id) == like
    with pytest.raises(BadPayload, match="not among"):
        await net.resolve_item(credentials, "1")


async def test_a_429_mid_round_resumes_from_the_stored_cursor_without_duplicate_or_loss(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    made = [fake.like("donor") for _ in range(70)]
    net, credentials = await signed_in(http, base)  # user/info: 1 call
    fake.knobs.rate_limit = 3
    seen: list[str] = []
    stored: str | None = None
    for _ in range(2):
        page = await net.list_likes(credentials, stored)
        seen += [like.item_id for like in page.likes]
        stored = page.next_cursor
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(credentials, stored)
    assert 3500 < raised.value.retry_after <= 3600
    assert fake.over_limit == 0
    fake.knobs.rate_limit = 1000
    rest, keep = await read_round(net, credentials, stored)
    assert seen + rest == [str(post.id) for post in reversed(made)]
    assert keep is not None and keep.startswith("stop=")


def test_the_wait_after_a_429_reads_tumblr_headers() -> None:
    assert tumblr_wait({"retry-after": "30"}) == 30
    spent = {
        "x-ratelimit-perhour-remaining": "0",
        "x-ratelimit-perhour-reset": "1200",
        "x-ratelimit-perday-remaining": "0",
        "x-ratelimit-perday-reset": "50000",
    }
    assert tumblr_wait(spent) == 50000
    assert tumblr_wait({**spent, "x-ratelimit-perday-remaining": "7"}) == 1200
    assert tumblr_wait({}) == 60


async def test_token_expiry_refresh_and_revocation(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    fake.like("donor")
    net, credentials = await signed_in(http, base)
    credentials.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(TokenExpired):
        await net.list_likes(credentials, None)
    renewed = await net.refresh(credentials)
    assert len((await net.list_likes(renewed, None)).likes) == 1
    again = await flows.assert_expired_then_revoked(net, http, base, renewed)
    with pytest.raises(TokenRevoked):
        await net.list_likes(Credentials(again.access_token), None)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("too_many", "more than 20"),
        ("duplicate", "listed twice"),
        ("path_trick", "not an id we accept"),
        ("out_of_order", "out of order"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str], knob: str, message: str
) -> None:
    fake, base = tumblr
    for _ in range(3):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    await flows.assert_hostile(net, credentials, fake.knobs, knob, message)


async def test_a_next_link_outside_the_api_is_a_bad_payload(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    for _ in range(25):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    fake.knobs.foreign_next = True
    with pytest.raises(BadPayload, match="outside the API"):
        await net.list_likes(credentials, None)


async def test_a_page_of_likes_in_one_second_cannot_move_on(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    for _ in range(25):
        fake.like("donor", at=1_733_000_000)
    net, credentials = await signed_in(http, base)
    first = await net.list_likes(credentials, None)
    with pytest.raises(BadPayload, match="does not move"):
        await net.list_likes(credentials, first.next_cursor)


async def test_5xx_is_network_down(http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]) -> None:
    fake, base = tumblr
    net, credentials = await signed_in(http, base)
    await flows.assert_down_once(net, credentials, fake.knobs)


async def test_a_long_list_stops_after_a_round_of_pages(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    fake, base = tumblr
    for _ in range(20 * MAX_PAGES_PER_ROUND + 5):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    seen, keep = await read_round(net, credentials, None)
    # each page after the first reads its boundary like again and leaves it out
    assert len(seen) == len(set(seen)) == 20 + 19 * (MAX_PAGES_PER_ROUND - 1)
    assert keep is not None and "stop=" in keep


async def test_a_cursor_we_did_not_write_is_a_bad_payload(
    http: httpx.AsyncClient, tumblr: tuple[FakeTumblr, str]
) -> None:
    _, base = tumblr
    net = network(http, base)
    for cursor in ("garbage", "page=soon", "page=1-x", "stop=abc", "pages=-1"):
        with pytest.raises(BadPayload, match="cursor"):
            await net.list_likes(Credentials("t"), cursor)
