"""YoutubeNetwork over real HTTP against the fake YouTube Data API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Credentials, NetworkConfig
from bridges.budgets import MemoryBudget
from bridges.errors import BadPayload, RateLimited, TokenExpired, TokenRevoked
from bridges.registry import NetworkType
from bridges.rounds import parse_position
from bridges.youtube import (
    MAX_PAGES_PER_ROUND,
    QUOTA,
    VIDEO_ID_RE,
    QuotaSpent,
    YoutubeNetwork,
)
from tests.support import bridge_flows as flows
from tests.support.bridge_flows import read_round
from tests.support.fakes.server import serve
from tests.support.fakes.youtube import FakeYoutube, YoutubeControl

REDIRECT = flows.redirect_for("youtube")


@pytest.fixture
def youtube() -> Iterator[tuple[FakeYoutube, str]]:
    fake = FakeYoutube()
    with serve(fake) as base:
        yield fake, base


def network(
    http: httpx.AsyncClient, base: str, quota: MemoryBudget | None = None
) -> YoutubeNetwork:
    return YoutubeNetwork(http, flows.config(base), quota)


async def connect(net: YoutubeNetwork, http: httpx.AsyncClient) -> Connection:
    return await flows.connect(net, http, REDIRECT)


async def signed_in(http: httpx.AsyncClient, base: str) -> tuple[YoutubeNetwork, Credentials]:
    """The network on the fake, and the donor's credentials after connecting."""
    net = network(http, base)
    return net, (await connect(net, http)).credentials


def test_the_class_is_a_registry_entry() -> None:
    entry: NetworkType = YoutubeNetwork
    assert entry.is_configured(NetworkConfig(client_id="i", client_secret="s"))
    assert not entry.is_configured(NetworkConfig(client_id="i"))


async def test_connect_asks_google_for_offline_access_and_reads_the_channel(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    net = network(http, base)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert target.path == "/o/oauth2/v2/auth"
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["scope"] == ["https://www.googleapis.com/auth/youtube.readonly"]
    assert query["code_challenge_method"] == ["S256"]
    connection = await connect(net, http)
    channel = fake.channels["donor"]
    assert connection.account.external_id == channel
    assert connection.account.handle == "Donor"
    assert connection.account.profile_url == f"https://www.youtube.com/channel/{channel}"
    credentials = connection.credentials
    assert credentials.extra == {"likes_playlist": "LL", "channel_id": channel}
    assert credentials.refresh_token and credentials.expires_at is not None


async def test_a_claim_proves_the_channel(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    creator = fake.add_account("weaver")
    await http.post(f"{base}/_test/authorize_as", json={"user": "weaver"})
    net = network(http, base)
    pending, callback = await flows.authorize(net, http, REDIRECT, state="claim-1")
    claimed = await net.verify_claim(pending, callback)
    assert claimed.network == "youtube" and claimed.external_id == creator


async def test_first_round_pages_back_then_only_newer_likes(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    # Given 120 liked videos (pages of 50, 50, 20)
    fake, base = youtube
    made = [fake.like("donor") for _ in range(120)]
    net, credentials = await signed_in(http, base)
    # When the first round reads every page
    seen, keep = await read_round(net, credentials, None)
    # Then every like came once, newest first
    assert seen == [liked.video_id for liked in reversed(made)]
    assert keep is not None
    # When three more are liked (through the control API), the next round sees only them
    with YoutubeControl(base) as control:
        newer = [control.like("donor") for _ in range(3)]
    seen, keep = await read_round(net, credentials, keep)
    assert seen == [liked["video_id"] for liked in reversed(newer)]
    # And a round with nothing new reads one page and keeps its place
    before = fake.units
    assert await read_round(net, credentials, keep) == ([], keep)
    assert fake.units == before + 1


async def test_a_like_names_the_video_its_owner_and_when_it_was_liked(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    liked = fake.like("donor", title="How  a loom\nworks")
    fake.like("donor", owner="-")  # a deleted video: no owner, left out
    net, credentials = await signed_in(http, base)
    page = await net.list_likes(credentials, None)
    (like,) = page.likes
    assert like.like_id == liked.item_id and like.item_id == liked.video_id
    assert like.item_url == f"https://www.youtube.com/watch?v={liked.video_id}"
    assert like.creator.external_id == liked.owner
    assert like.creator.handle == liked.owner_title
    assert like.title == "How a loom works"
    assert like.liked_at == liked.added
    assert await net.resolve_item(credentials, liked.video_id) == like
    with pytest.raises(BadPayload):
        await net.resolve_item(credentials, "../../x")


async def test_an_unliked_stop_still_ends_the_round_by_time(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    made = [fake.like("donor") for _ in range(60)]
    net, credentials = await signed_in(http, base)
    _, keep = await read_round(net, credentials, None)
    for liked in made[-5:]:  # every id the cursor remembers is unliked
        fake.unlike("donor", liked.video_id)
    newer = fake.like("donor")
    before = fake.units
    seen, _ = await read_round(net, credentials, keep)
    assert seen == [newer.video_id]
    assert fake.units == before + 1  # one page: the older likes end the round by their time


async def test_a_quota_error_mid_round_resumes_without_duplicate_or_loss(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    # Given 130 likes and a quota that runs out after the second page
    fake, base = youtube
    made = [fake.like("donor") for _ in range(130)]
    net, credentials = await signed_in(http, base)  # 1 unit
    fake.knobs.quota = 3
    seen: list[str] = []
    stored: str | None = None
    page = await net.list_likes(credentials, stored)
    seen += [like.item_id for like in page.likes]
    stored = page.next_cursor
    page = await net.list_likes(credentials, stored)
    seen += [like.item_id for like in page.likes]
    stored = page.next_cursor
    # When the third page meets the exhausted quota
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(credentials, stored)
    assert not isinstance(raised.value, QuotaSpent)
    assert 0 < raised.value.retry_after <= 25 * 3600
    # Then after the wait the stored cursor finishes the round
    with YoutubeControl(base) as control:
        control.knobs(quota=10_000)
    rest, keep = await read_round(net, credentials, stored)
    assert seen + rest == [liked.video_id for liked in reversed(made)]
    assert keep is not None and parse_position(keep, VIDEO_ID_RE, "YouTube").page == ""


async def test_daily_limit_and_user_rate_limits_are_waits_not_revocations(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    net, credentials = await signed_in(http, base)
    fake.knobs.quota, fake.knobs.daily_limit = 0, True
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(credentials, None)
    assert raised.value.retry_after == pytest.approx(QUOTA.period.seconds_left(), abs=5)
    fake.knobs.quota, fake.knobs.throttle = 10_000, 1
    with pytest.raises(RateLimited) as throttled:
        await net.list_likes(credentials, None)
    assert throttled.value.retry_after == 60
    fake.knobs.forbidden = True  # a 403 that is about the token
    with pytest.raises(TokenExpired):
        await net.list_likes(credentials, None)
    with pytest.raises(TokenRevoked):
        await net.list_likes(Credentials(credentials.access_token, extra=credentials.extra), None)


async def test_the_instance_quota_is_spent_before_calling_and_says_so(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    quota = MemoryBudget(2)
    net = network(http, base, quota)
    credentials = (await connect(net, http)).credentials  # channels.list: 1 unit
    await net.list_likes(credentials, None)  # playlistItems.list: 1 unit
    calls = fake.requests
    with pytest.raises(QuotaSpent, match="quota of this instance is spent") as raised:
        await net.list_likes(credentials, None)
    assert fake.requests == calls  # nothing was sent
    assert raised.value.retry_after == pytest.approx(QUOTA.period.seconds_left(), abs=5)
    assert quota.used == {QUOTA.period.key(): 2}


def test_the_quota_is_10_000_units_a_pacific_day_unless_the_admin_says() -> None:
    assert YoutubeNetwork.budget_terms == QUOTA
    tables: list[dict[str, object]] = [{}, {"daily_units": ""}, {"daily_units": "5"}]
    assert [QUOTA.limit(table) for table in tables] == [10_000, 10_000, 5]
    late = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)  # 23:30 in Los Angeles on the 6th
    assert QUOTA.period.key(late) == "2026-12-06"
    assert QUOTA.period.seconds_left(late) == 30 * 60
    assert QUOTA.period.key(late + timedelta(hours=1)) == "2026-12-07"


async def test_token_expiry_refresh_and_revocation(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    fake.like("donor")
    net, credentials = await signed_in(http, base)
    credentials.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(TokenExpired):
        await net.list_likes(credentials, None)
    renewed = await net.refresh(credentials)
    assert renewed.extra == credentials.extra
    assert len((await net.list_likes(renewed, None)).likes) == 1
    # Google's 401 (an expired token): try the refresh token
    await flows.assert_expired_then_revoked(net, http, base, renewed)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("too_many", "more than 50"),
        ("duplicate", "listed twice"),
        ("path_trick", "not an id we accept"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str], knob: str, message: str
) -> None:
    fake, base = youtube
    for _ in range(3):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    await flows.assert_hostile(net, credentials, fake.knobs, knob, message)


async def test_a_page_token_that_does_not_move_is_a_bad_payload(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    for _ in range(120):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    first = await net.list_likes(credentials, None)
    fake.knobs.stuck_token = True
    with pytest.raises(BadPayload, match="does not move"):
        await net.list_likes(credentials, first.next_cursor)


async def test_5xx_is_network_down(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    net, credentials = await signed_in(http, base)
    await flows.assert_down_once(net, credentials, fake.knobs)


async def test_an_endless_playlist_stops_after_a_round_of_pages(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    fake, base = youtube
    for _ in range(50 * MAX_PAGES_PER_ROUND + 10):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    seen, keep = await read_round(net, credentials, None)
    assert len(seen) == 50 * MAX_PAGES_PER_ROUND
    assert keep is not None and "stop=" in keep


async def test_a_cursor_we_did_not_write_is_a_bad_payload(
    http: httpx.AsyncClient, youtube: tuple[FakeYoutube, str]
) -> None:
    _, base = youtube
    net = network(http, base)
    credentials = Credentials("t", extra={"likes_playlist": "LL"})
    for cursor in (
        "garbage",
        "stop=../x",
        "page=a&page=b",
        "stop_at=soon",
        "pages=x",
        "other=1",
        "stop=" + ",".join(["dQw4w9WgXcQ"] * 6),
    ):
        with pytest.raises(BadPayload, match="cursor"):
            await net.list_likes(credentials, cursor)
