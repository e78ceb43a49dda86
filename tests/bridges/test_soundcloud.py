"""SoundCloudNetwork over real HTTP against the fake SoundCloud on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Creator, Credentials, NetworkConfig
from bridges.errors import (
    BadPayload,
    ConnectFailed,
    RateLimited,
    TokenExpired,
    TokenRevoked,
)
from bridges.registry import NetworkType
from bridges.soundcloud import MAX_PAGES_PER_ROUND, PAGE_SIZE, SoundCloudNetwork, reset_wait
from tests.support import bridge_flows as flows
from tests.support.fakes.oauth2 import CLIENT_ID
from tests.support.fakes.server import serve
from tests.support.fakes.soundcloud import FakeSoundCloud, SoundCloudControl

REDIRECT = flows.redirect_for("soundcloud")


@pytest.fixture
def soundcloud() -> Iterator[FakeSoundCloud]:
    fake = FakeSoundCloud()
    with serve(fake):
        yield fake


def network(http: httpx.AsyncClient, fake: FakeSoundCloud) -> SoundCloudNetwork:
    return SoundCloudNetwork(http, flows.config(fake.base))


async def connect(http: httpx.AsyncClient, fake: FakeSoundCloud, state: str = "s-1") -> Connection:
    return await flows.connect(network(http, fake), http, REDIRECT, state=state)


async def read_round(
    net: SoundCloudNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    return await flows.read_round(net, credentials, cursor, "like_id")


def urns(ids: list[int]) -> list[str]:
    return [f"soundcloud:tracks:{track_id}" for track_id in ids]


def test_the_class_is_a_registry_entry_configured_by_client_id_and_secret() -> None:
    entry: NetworkType = SoundCloudNetwork
    assert not entry.is_configured(NetworkConfig(client_id=CLIENT_ID))
    assert entry.is_configured(NetworkConfig(client_id=CLIENT_ID, client_secret="s"))
    net = SoundCloudNetwork(httpx.AsyncClient(), NetworkConfig(client_id="i", client_secret="s"))
    assert net.url(net.endpoints.authorize) == "https://secure.soundcloud.com/authorize"
    assert net.api_url("/me/likes/tracks") == "https://api.soundcloud.com/me/likes/tracks"


async def test_connect_runs_the_code_flow_with_pkce_and_reads_me(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    start = await network(http, soundcloud).start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    assert target.path == "/authorize"
    assert parse_qs(target.query)["code_challenge_method"] == ["S256"]
    connection = await connect(http, soundcloud)
    user_id = soundcloud.users["donor"]
    assert connection.account == Creator(
        "soundcloud", f"soundcloud:users:{user_id}", "donor", "https://soundcloud.com/donor"
    )
    credentials = connection.credentials
    assert credentials.refresh_token and credentials.expires_at is not None
    assert soundcloud.schemes == {"OAuth"}  # the header SoundCloud's guide documents


async def test_a_refusal_or_a_wrong_verifier_fails_to_connect(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    net = network(http, soundcloud)
    start = await net.start_connect("", REDIRECT, "right")
    code = flows.query_of(await flows.follow(http, start))["code"]
    tampered = {**start.pending, "code_verifier": "x" * 64}
    with pytest.raises(ConnectFailed, match="refused the authorization code"):
        await net.finish_connect(tampered, {"code": code, "state": "right"}, REDIRECT)
    soundcloud.provider.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(http, soundcloud)


async def test_first_round_reads_every_page_then_the_next_round_only_newer_likes(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    made = [soundcloud.like("donor") for _ in range(2 * PAGE_SIZE + 7)]
    connection = await connect(http, soundcloud)
    net = network(http, soundcloud)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == urns(made[::-1])
    assert keep is not None and keep.startswith("stop=")
    with SoundCloudControl(soundcloud.base) as control:
        newer = [control.like("donor") for _ in range(3)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == urns(newer[::-1])
    # nothing new: nothing read, the place kept
    assert await read_round(net, connection.credentials, keep) == ([], keep)
    # the newest like is taken back: the round still stops at the ones before it
    soundcloud.unlike("donor", newer[-1])
    again = soundcloud.like("donor")
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == urns([again])


async def test_more_than_a_page_of_newer_likes_is_read_down_to_the_last_seen(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    soundcloud.like("donor")
    connection = await connect(http, soundcloud)
    net = network(http, soundcloud)
    _, keep = await read_round(net, connection.credentials, None)
    newer = [soundcloud.like("donor") for _ in range(PAGE_SIZE + 5)]
    first = await net.list_likes(connection.credentials, keep)
    assert len(first.likes) == PAGE_SIZE and first.next_cursor is not None
    second = await net.list_likes(connection.credentials, first.next_cursor)
    assert [like.like_id for like in first.likes + second.likes] == urns(newer[::-1])
    assert second.next_cursor is None
    assert second.cursor_to_keep == first.resume_cursor


async def test_a_like_names_the_track_and_its_user(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    track_id = soundcloud.like("donor", "harbour-sounds", "Harbour\tat dawn\u0000 " + "x" * 200)
    connection = await connect(http, soundcloud)
    net = network(http, soundcloud)
    (like,) = (await net.list_likes(connection.credentials, None)).likes
    assert like.like_id == like.item_id == f"soundcloud:tracks:{track_id}"
    assert like.item_url == f"https://api.soundcloud.com/tracks/{track_id}"
    author = soundcloud.users["harbour-sounds"]
    assert like.creator == Creator(
        "soundcloud",
        f"soundcloud:users:{author}",
        "harbour-sounds",
        "https://soundcloud.com/harbour-sounds",
    )
    assert like.title.startswith("Harbour at dawn x") and len(like.title) == 120
    assert like.liked_at is None
    assert await net.resolve_item(connection.credentials, like.item_id) == like
    with pytest.raises(BadPayload, match="track"):
        await net.resolve_item(connection.credentials, "soundcloud:tracks:../me")


async def test_a_429_mid_round_resumes_at_the_stored_cursor_without_loss_or_duplicate(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    made = [soundcloud.like("donor") for _ in range(3 * PAGE_SIZE)]
    connection = await connect(http, soundcloud)  # /me counts: 1
    net = network(http, soundcloud)
    soundcloud.knobs.rate_limit = 3  # /me and two pages, then 429
    seen: list[str] = []
    stored: str | None = None
    with pytest.raises(RateLimited) as raised:
        while True:
            page = await net.list_likes(connection.credentials, stored)
            seen += [like.like_id for like in page.likes]
            stored = page.next_cursor  # the server's checkpoint after each page
            assert stored is not None
    assert 250 < raised.value.retry_after <= 300  # from the body's reset_time
    assert len(seen) == 2 * PAGE_SIZE
    soundcloud.knobs.rate_limit = 300
    soundcloud.windows.clear()
    rest, keep = await read_round(net, connection.credentials, stored)
    assert seen + rest == urns(made[::-1])
    assert keep is not None and soundcloud.over_limit == 0


def test_the_reset_time_of_a_429_body_is_read_and_bounded() -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    body = b'{"errors":[{"meta":{"reset_time":"2026/12/07 09:49:40 +0000"}}]}'
    assert reset_wait(body, {}, now) == 49 * 60 + 40
    assert reset_wait(b"not json", {"retry-after": "7"}, now) == 7
    assert reset_wait(b'{"errors": []}', {}, now) == 60
    past = b'{"errors":[{"meta":{"reset_time":"2026/12/07 08:00:00 +0000"}}]}'
    assert reset_wait(past, {}, now) == 1


async def test_token_expiry_is_refreshed_and_a_revoked_token_must_connect_again(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    soundcloud.like("donor")
    connection = await connect(http, soundcloud)
    net = network(http, soundcloud)
    credentials = connection.credentials
    credentials.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(TokenExpired):
        await net.list_likes(credentials, None)
    renewed = await net.refresh(credentials)
    assert len((await net.list_likes(renewed, None)).likes) == 1
    with pytest.raises(TokenRevoked):
        await net.refresh(credentials)  # a refresh token works once
    with SoundCloudControl(soundcloud.base) as control:
        assert control.token("donor", "expired") == 1
    with pytest.raises(TokenExpired):
        await net.list_likes(renewed, None)
    again = await net.refresh(renewed)
    assert len((await net.list_likes(again, None)).likes) == 1
    with SoundCloudControl(soundcloud.base) as control:
        control.token("donor", "revoked")
    with pytest.raises(TokenExpired):
        await net.list_likes(again, None)
    with pytest.raises(TokenRevoked):
        await net.refresh(again)


async def test_5xx_is_network_down(http: httpx.AsyncClient, soundcloud: FakeSoundCloud) -> None:
    connection = await connect(http, soundcloud)
    await flows.assert_down_once(
        network(http, soundcloud), connection.credentials, soundcloud.knobs
    )


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("too_many", f"tracks for {PAGE_SIZE} asked"),
        ("duplicate", "listed twice"),
        ("path_trick", "not an id we accept"),
        ("missing_user", "no user"),
        ("next_outside", "outside the API"),
        ("next_loop", "does not move on"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud, knob: str, message: str
) -> None:
    for _ in range(PAGE_SIZE + 1):
        soundcloud.like("donor")
    connection = await connect(http, soundcloud)
    net = network(http, soundcloud)
    setattr(soundcloud.knobs, knob, True)
    with pytest.raises(BadPayload, match=message):
        await read_round(net, connection.credentials, None)


async def test_an_endless_list_stops_after_a_round_of_pages(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    connection = await connect(http, soundcloud)
    soundcloud.knobs.endless = True
    seen, keep = await read_round(network(http, soundcloud), connection.credentials, None)
    assert len(seen) == len(set(seen)) == MAX_PAGES_PER_ROUND * PAGE_SIZE
    assert keep is not None and keep.startswith("stop=")


async def test_a_cursor_we_did_not_write_is_a_bad_payload(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    credentials = Credentials("t")
    net = network(http, soundcloud)
    for cursor in (
        "garbage",
        "stop=../x",
        "stop=1,2,3,4,5,6",
        "newest=5",
        "href=%2Fme%2Flikes%2Ftracks&newest=5&pages=x",
        "href=https%3A%2F%2Fevil.example%2Fme%2Flikes%2Ftracks&newest=5&pages=1",
        "href=%2Fme&newest=5&pages=1",
        "stop=5&other=1",
    ):
        with pytest.raises(BadPayload):
            await net.list_likes(credentials, cursor)
    assert soundcloud.requests == 0


async def test_claim_proves_the_account_the_oauth_signed_in(
    http: httpx.AsyncClient, soundcloud: FakeSoundCloud
) -> None:
    soundcloud.like("donor", "harbour-sounds")
    soundcloud.provider.user = "harbour-sounds"
    net = network(http, soundcloud)
    pending, callback = await flows.authorize(net, http, REDIRECT, state="claim-1")
    creator = await net.verify_claim(pending, callback)
    assert creator.external_id == f"soundcloud:users:{soundcloud.users['harbour-sounds']}"
    assert creator.handle == "harbour-sounds"
    with pytest.raises(ConnectFailed, match="state"):
        await net.verify_claim(pending, {**callback, "state": "other"})
