"""DailymotionNetwork over real HTTP against the fake Dailymotion API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Credentials, NetworkConfig
from bridges.dailymotion import MAX_PAGES_PER_ROUND, PAGE_SIZE, DailymotionNetwork
from bridges.errors import (
    BadPayload,
    ConnectFailed,
    RateLimited,
    TokenExpired,
    TokenRevoked,
    UnexpectedStatus,
)
from bridges.registry import NetworkType
from tests.support import bridge_flows as flows
from tests.support.fakes.dailymotion import DailymotionControl, FakeDailymotion
from tests.support.fakes.oauth2 import CLIENT_SECRET
from tests.support.fakes.server import serve

REDIRECT = flows.redirect_for("dailymotion")


@pytest.fixture
def dailymotion() -> Iterator[FakeDailymotion]:
    fake = FakeDailymotion()
    with serve(fake):
        yield fake


def network(
    http: httpx.AsyncClient, fake: FakeDailymotion, secret: str = CLIENT_SECRET
) -> DailymotionNetwork:
    return DailymotionNetwork(http, flows.config(f"http://{fake.host}", client_secret=secret))


async def authorize(
    net: DailymotionNetwork, http: httpx.AsyncClient
) -> tuple[dict[str, str], dict[str, str]]:
    return await flows.authorize(net, http, REDIRECT)


async def connect(http: httpx.AsyncClient, fake: FakeDailymotion) -> Connection:
    return await flows.connect(network(http, fake), http, REDIRECT)


async def read_round(
    net: DailymotionNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    return await flows.read_round(net, credentials, cursor, "like_id")


def ids(made: list[dict[str, str]]) -> list[str]:
    """Video ids most recent first, as Dailymotion lists likes."""
    return [item["video_id"] for item in reversed(made)]


def test_the_class_is_a_registry_entry() -> None:
    entry: NetworkType = DailymotionNetwork
    assert entry.is_configured(NetworkConfig(client_id="key", client_secret="secret"))
    assert not entry.is_configured(NetworkConfig())


async def test_connect_asks_no_scope_and_reads_me(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    net = network(http, dailymotion)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert target.path == "/oauth/authorize"
    assert "scope" not in query and "code_challenge" not in query
    connection = await connect(http, dailymotion)
    assert connection.account.network == "dailymotion"
    assert connection.account.external_id == dailymotion.users["donor"]
    assert connection.account.handle == "donor"
    assert connection.account.profile_url == "https://www.dailymotion.com/donor"
    expires_at = connection.credentials.expires_at
    assert connection.credentials.refresh_token and expires_at is not None
    assert expires_at > datetime.now(UTC) + timedelta(hours=9)
    wrong = network(http, dailymotion, secret="wrong")
    pending, callback = await authorize(wrong, http)
    with pytest.raises(ConnectFailed, match="refused the authorization code"):
        await wrong.finish_connect(pending, callback, REDIRECT)
    dailymotion.provider.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(http, dailymotion)


async def test_first_round_reads_every_page_then_only_newer_likes(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    made = [dailymotion.like("donor", owner=f"atelier{index % 4}") for index in range(230)]
    connection = await connect(http, dailymotion)
    net = network(http, dailymotion)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == ids(made) and keep == f"since={made[-1]['video_id']}"
    with DailymotionControl(f"http://{dailymotion.host}") as control:
        newer = [control.like("donor") for _ in range(PAGE_SIZE + 2)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == ids(newer) and keep == f"since={newer[-1]['video_id']}"
    assert await read_round(net, connection.credentials, keep) == ([], keep)


async def test_a_like_names_the_video_and_its_owner_without_a_like_time(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    made = dailymotion.like("donor", owner="atelier-mistral")
    connection = await connect(http, dailymotion)
    net = network(http, dailymotion)
    (like,) = (await net.list_likes(connection.credentials, None)).likes
    assert like.like_id == like.item_id == made["video_id"]
    assert like.item_url == f"https://www.dailymotion.com/video/{made['video_id']}"
    assert like.title == f"Le mistral, prise {made['video_id']}"
    assert like.creator.external_id == made["owner_id"]
    assert like.creator.handle == "atelier-mistral"
    assert like.creator.profile_url == "https://www.dailymotion.com/atelier-mistral"
    assert like.liked_at is None  # created_time is the video's, not the like's
    assert await net.resolve_item(connection.credentials, like.item_id) == like
    with pytest.raises(UnexpectedStatus) as raised:
        await net.resolve_item(connection.credentials, "xnotfound1")
    assert raised.value.status == 404
    with pytest.raises(BadPayload):
        await net.resolve_item(connection.credentials, "../x1")


async def test_the_first_round_reads_a_bounded_number_of_pages(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    made = [dailymotion.like("donor") for _ in range(MAX_PAGES_PER_ROUND * PAGE_SIZE + 7)]
    connection = await connect(http, dailymotion)
    seen, keep = await read_round(network(http, dailymotion), connection.credentials, None)
    assert seen == ids(made)[: MAX_PAGES_PER_ROUND * PAGE_SIZE]
    assert keep == f"since={made[-1]['video_id']}"


@pytest.mark.parametrize("status", [403, 429])
async def test_a_rate_limit_mid_round_resumes_at_the_checkpoint_without_loss_or_duplicate(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion, status: int
) -> None:
    made = [dailymotion.like("donor") for _ in range(250)]
    connection = await connect(http, dailymotion)  # GET /me: one read
    net = network(http, dailymotion)
    dailymotion.knobs.rate_limit, dailymotion.knobs.rate_status = 2, status
    first = await net.list_likes(connection.credentials, None)
    checkpoint = first.next_cursor
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(connection.credentials, checkpoint)
    assert raised.value.retry_after == (120 if status == 429 else 60)
    added = [dailymotion.like("donor") for _ in range(4)]  # the pages shift down by four
    dailymotion.knobs.rate_limit = 1000
    dailymotion.reset_usage()
    seen, keep = await read_round(net, connection.credentials, checkpoint)
    everything = [like.like_id for like in first.likes] + seen
    assert everything == ids(made) and len(set(everything)) == len(everything)
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == ids(added)
    assert dailymotion.over_limit == 0


async def test_an_expired_token_is_refreshed_and_a_revoked_one_is_not(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    dailymotion.like("donor")
    connection = await connect(http, dailymotion)
    net = network(http, dailymotion)
    # past its expires_in: not sent, the poller refreshes first
    stale = Credentials(
        connection.credentials.access_token,
        connection.credentials.refresh_token,
        datetime.now(UTC) - timedelta(seconds=1),
    )
    with pytest.raises(TokenExpired):
        await net.list_likes(stale, None)
    renewed = await net.refresh(stale)
    assert len((await net.list_likes(renewed, None)).likes) == 1
    # Dailymotion says 401 "Invalid access token": with a refresh token, a refresh is tried
    host = f"http://{dailymotion.host}"
    await http.post(f"{host}/_test/token", json={"user": "donor", "state": "expired"})
    with pytest.raises(TokenExpired):
        await net.list_likes(renewed, None)
    again = await net.refresh(renewed)
    assert len((await net.list_likes(again, None)).likes) == 1
    await http.post(f"{host}/_test/token", json={"user": "donor", "state": "revoked"})
    with pytest.raises(TokenRevoked):
        await net.refresh(again)
    fresh = await connect(http, dailymotion)
    dailymotion.knobs.forbidden = True
    with pytest.raises(TokenRevoked, match="Access forbidden"):
        await net.list_likes(fresh.credentials, None)


@pytest.mark.parametrize(
    "knob",
    [
        "malformed_json",
        "oversized",
        "not_list",
        "too_many",
        "duplicate",
        "bad_id",
        "bad_owner",
        "bad_username",
        "missing_owner",
        "has_more_text",
    ],
)
async def test_a_hostile_answer_fails_the_page(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion, knob: str
) -> None:
    for _ in range(3):
        dailymotion.like("donor")
    connection = await connect(http, dailymotion)
    await flows.assert_hostile(
        network(http, dailymotion), connection.credentials, dailymotion.knobs, knob
    )


async def test_has_more_past_the_last_page_is_a_bad_payload(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    dailymotion.like("donor")
    connection = await connect(http, dailymotion)
    dailymotion.knobs.has_more_forever = True
    net = network(http, dailymotion)
    with pytest.raises(BadPayload, match="last page"):
        await net.list_likes(connection.credentials, "page=100&top=x1&last=x2")
    # below it, an endless has_more stops at the round's page bound
    seen, _ = await read_round(net, connection.credentials, None)
    assert len(seen) == 1


@pytest.mark.parametrize(
    "cursor",
    [
        "page=2",
        "since=X1",
        "page=0",
        "page=101&top=x1&last=x2",
        "since=x1&since=x2",
        "top=x1",
        "%%",
    ],
)
async def test_a_bad_stored_cursor_is_a_bad_payload(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion, cursor: str
) -> None:
    connection = await connect(http, dailymotion)
    with pytest.raises(BadPayload):
        await network(http, dailymotion).list_likes(connection.credentials, cursor)


async def test_5xx_is_network_down(http: httpx.AsyncClient, dailymotion: FakeDailymotion) -> None:
    connection = await connect(http, dailymotion)
    await flows.assert_down_once(
        network(http, dailymotion), connection.credentials, dailymotion.knobs
    )


async def test_a_claim_proves_the_owner_id_likes_name(
    http: httpx.AsyncClient, dailymotion: FakeDailymotion
) -> None:
    made = dailymotion.like("donor", owner="atelier-mistral")
    donor = await connect(http, dailymotion)
    net = network(http, dailymotion)
    (like,) = (await net.list_likes(donor.credentials, None)).likes
    await http.post(
        f"http://{dailymotion.host}/_test/authorize_as", json={"user": "atelier-mistral"}
    )
    pending, callback = await authorize(net, http)
    creator = await net.verify_claim(pending, callback)
    assert creator == like.creator and creator.external_id == made["owner_id"]
