"""VimeoNetwork over real HTTP against the fake Vimeo API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Credentials, NetworkConfig
from bridges.errors import BadPayload, ConnectFailed, RateLimited, TokenRevoked
from bridges.registry import NetworkType
from bridges.vimeo import MAX_PAGES_PER_ROUND, PAGE_SIZE, VimeoNetwork
from tests.support import bridge_flows as flows
from tests.support.fakes.oauth2 import CLIENT_SECRET
from tests.support.fakes.server import serve
from tests.support.fakes.vimeo import FakeVimeo, VimeoControl

REDIRECT = flows.redirect_for("vimeo")


@pytest.fixture
def vimeo() -> Iterator[FakeVimeo]:
    fake = FakeVimeo()
    with serve(fake):
        yield fake


def network(http: httpx.AsyncClient, fake: FakeVimeo, secret: str = CLIENT_SECRET) -> VimeoNetwork:
    return VimeoNetwork(http, flows.config(f"http://{fake.host}", client_secret=secret))


async def authorize(
    net: VimeoNetwork, http: httpx.AsyncClient
) -> tuple[dict[str, str], dict[str, str]]:
    return await flows.authorize(net, http, REDIRECT)


async def connect(http: httpx.AsyncClient, fake: FakeVimeo) -> Connection:
    return await flows.connect(network(http, fake), http, REDIRECT)


async def read_round(
    net: VimeoNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    return await flows.read_round(net, credentials, cursor, "like_id")


def ids(made: list[dict[str, str]]) -> list[str]:
    """Video ids newest first, as Vimeo lists likes."""
    return [item["video_id"] for item in reversed(made)]


def test_the_class_is_a_registry_entry() -> None:
    entry: NetworkType = VimeoNetwork
    assert entry.is_configured(NetworkConfig(client_id="i", client_secret="s"))
    assert not entry.is_configured(NetworkConfig(client_secret="s"))


async def test_connect_uses_basic_client_auth_and_reads_me(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    net = network(http, vimeo)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert target.path == "/oauth/authorize"
    assert query["scope"] == ["public private"] and "code_challenge" not in query
    connection = await connect(http, vimeo)
    assert connection.account.network == "vimeo"
    assert connection.account.external_id == str(vimeo.users["donor"])
    assert connection.account.handle == "donor"
    assert connection.account.profile_url == "https://vimeo.com/donor"
    assert connection.credentials.scopes == ("public", "private")
    assert connection.credentials.expires_at is None and connection.credentials.refresh_token == ""
    # a wrong secret or a refusal fails the connection
    wrong = network(http, vimeo, secret="wrong")
    pending, callback = await authorize(wrong, http)
    with pytest.raises(ConnectFailed, match="refused the authorization code"):
        await wrong.finish_connect(pending, callback, REDIRECT)
    vimeo.provider.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(http, vimeo)


async def test_first_round_reads_every_page_then_only_newer_likes(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    made = [vimeo.like("donor", owner=f"maker{index % 5}") for index in range(120)]
    connection = await connect(http, vimeo)
    net = network(http, vimeo)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == ids(made)
    newest = datetime.fromisoformat(made[-1]["added_time"])
    assert keep == f"since={made[-1]['video_id']}&at={int(newest.timestamp())}"
    with VimeoControl(f"http://{vimeo.host}") as control:
        newer = [control.like("donor") for _ in range(3)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == ids(newer)
    assert await read_round(net, connection.credentials, keep) == ([], keep)


async def test_a_like_names_the_video_its_uploader_and_the_like_time(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    made = vimeo.like("donor", owner="rosalindqvist")
    connection = await connect(http, vimeo)
    net = network(http, vimeo)
    page = await net.list_likes(connection.credentials, None)
    (like,) = page.likes
    assert like.like_id == like.item_id == made["video_id"]
    assert like.item_url == f"https://vimeo.com/{made['video_id']}"
    assert like.title == f"Harbour film {made['video_id']}"  # the newline is gone
    assert like.creator.external_id == made["owner_id"]
    assert like.creator.handle == "rosalindqvist"
    assert like.creator.profile_url == "https://vimeo.com/rosalindqvist"
    assert like.liked_at == datetime.fromisoformat(made["added_time"])
    assert page.rate is not None and page.rate.limit == 250 and page.rate.reset_at is not None
    resolved = await net.resolve_item(connection.credentials, like.item_id)
    assert resolved.creator == like.creator and resolved.item_url == like.item_url
    assert resolved.liked_at is None
    with pytest.raises(BadPayload):
        await net.resolve_item(connection.credentials, "1/../2")


async def test_without_like_times_rounds_stop_at_the_last_like_seen(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    vimeo.knobs.no_like_time = True
    made = [vimeo.like("donor") for _ in range(60)]
    connection = await connect(http, vimeo)
    net = network(http, vimeo)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == ids(made) and keep == f"since={made[-1]['video_id']}"
    newer = [vimeo.like("donor") for _ in range(PAGE_SIZE + 4)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == ids(newer) and keep == f"since={newer[-1]['video_id']}"
    page = await net.list_likes(connection.credentials, None)
    assert page.likes and all(like.liked_at is None for like in page.likes)


async def test_an_unliked_resume_point_stops_at_the_first_older_like(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    vimeo.like("donor")
    last = vimeo.like("donor")
    connection = await connect(http, vimeo)
    net = network(http, vimeo)
    _, keep = await read_round(net, connection.credentials, None)
    vimeo.unlike("donor", int(last["video_id"]))
    newer = [vimeo.like("donor") for _ in range(2)]
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == ids(newer)


async def test_the_first_round_reads_a_bounded_number_of_pages(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    made = [vimeo.like("donor") for _ in range(MAX_PAGES_PER_ROUND * PAGE_SIZE + 3)]
    connection = await connect(http, vimeo)
    seen, keep = await read_round(network(http, vimeo), connection.credentials, None)
    assert seen == ids(made)[: MAX_PAGES_PER_ROUND * PAGE_SIZE]
    assert keep is not None and keep.startswith(f"since={made[-1]['video_id']}&")


async def test_a_429_mid_round_resumes_at_the_checkpoint_without_loss_or_duplicate(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    made = [vimeo.like("donor") for _ in range(130)]
    connection = await connect(http, vimeo)  # GET /me: one read
    net = network(http, vimeo)
    vimeo.knobs.rate_limit = 2
    first = await net.list_likes(connection.credentials, None)
    assert first.rate is not None and first.rate.remaining == 0
    checkpoint = first.next_cursor
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(connection.credentials, checkpoint)
    assert 1 <= raised.value.retry_after <= 60
    added = [vimeo.like("donor") for _ in range(3)]  # the pages shift down by three
    vimeo.knobs.rate_limit = 250
    seen, keep = await read_round(net, connection.credentials, checkpoint)
    everything = [like.like_id for like in first.likes] + seen
    assert everything == ids(made) and len(set(everything)) == len(everything)
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == ids(added)
    assert vimeo.over_limit == 0


async def test_more_than_a_page_of_likes_added_while_a_round_waits_is_left_to_the_next(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    made = [vimeo.like("donor") for _ in range(120)]
    connection = await connect(http, vimeo)
    net = network(http, vimeo)
    first = await net.list_likes(connection.credentials, None)
    added = [vimeo.like("donor") for _ in range(PAGE_SIZE + 10)]  # page 2 is all new now
    seen, keep = await read_round(net, connection.credentials, first.next_cursor)
    assert [like.like_id for like in first.likes] + seen == ids(made)
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == ids(added)


async def test_a_revoked_token_cannot_be_refreshed_vimeo_tokens_do_not_expire(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    connection = await connect(http, vimeo)
    net = network(http, vimeo)
    with pytest.raises(TokenRevoked, match="no refresh token"):
        await net.refresh(connection.credentials)
    await http.post(f"http://{vimeo.host}/_test/token", json={"user": "donor", "state": "revoked"})
    with pytest.raises(TokenRevoked, match="valid authenticated access token"):
        await net.list_likes(connection.credentials, None)


@pytest.mark.parametrize(
    "knob",
    [
        "malformed_json",
        "oversized",
        "not_collection",
        "too_many",
        "duplicate",
        "bad_video_uri",
        "bad_user_uri",
        "missing_user",
        "next_outside",
        "next_stuck",
    ],
)
async def test_a_hostile_answer_fails_the_page(
    http: httpx.AsyncClient, vimeo: FakeVimeo, knob: str
) -> None:
    for _ in range(PAGE_SIZE + 1):
        vimeo.like("donor")
    connection = await connect(http, vimeo)
    await flows.assert_hostile(network(http, vimeo), connection.credentials, vimeo.knobs, knob)


@pytest.mark.parametrize(
    "cursor", ["page=2", "at=5", "since=x", "page=0", "since=1&since=2", "top=1", "what=1", "%%"]
)
async def test_a_bad_stored_cursor_is_a_bad_payload(
    http: httpx.AsyncClient, vimeo: FakeVimeo, cursor: str
) -> None:
    connection = await connect(http, vimeo)
    with pytest.raises(BadPayload):
        await network(http, vimeo).list_likes(connection.credentials, cursor)


async def test_5xx_is_network_down(http: httpx.AsyncClient, vimeo: FakeVimeo) -> None:
    connection = await connect(http, vimeo)
    await flows.assert_down_once(network(http, vimeo), connection.credentials, vimeo.knobs)


async def test_a_claim_proves_the_account_that_signed_in(
    http: httpx.AsyncClient, vimeo: FakeVimeo
) -> None:
    vimeo.add_user("rosalindqvist")
    await http.post(f"http://{vimeo.host}/_test/authorize_as", json={"user": "rosalindqvist"})
    net = network(http, vimeo)
    pending, callback = await authorize(net, http)
    creator = await net.verify_claim(pending, callback)
    assert creator.external_id == str(vimeo.users["rosalindqvist"])
    assert creator.handle == "rosalindqvist"
    # the identity a claim proves is the one likes name as creator
    made = vimeo.like("donor", owner="rosalindqvist")
    await http.post(f"http://{vimeo.host}/_test/authorize_as", json={"user": "donor"})
    donor = await connect(http, vimeo)
    (like,) = (await net.list_likes(donor.credentials, None)).likes
    assert like.creator == creator and like.item_id == made["video_id"]
