"""FlickrNetwork over real HTTP against the fake Flickr on loopback (which verifies every
OAuth 1.0a signature it receives)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, ConnectKind, Creator, Credentials, NetworkConfig
from bridges.errors import (
    BadPayload,
    ConnectFailed,
    NetworkDown,
    RateLimited,
    TokenRevoked,
)
from bridges.flickr import MAX_PAGES_PER_ROUND, PAGE_SIZE, FlickrNetwork
from bridges.registry import NetworkType
from tests.support import bridge_flows as flows
from tests.support.fakes.flickr import CONSUMER_KEY, CONSUMER_SECRET, FakeFlickr, FlickrControl
from tests.support.fakes.server import serve

REDIRECT = flows.redirect_for("flickr")


@pytest.fixture
def flickr() -> Iterator[FakeFlickr]:
    fake = FakeFlickr()
    with serve(fake):
        yield fake


def network(
    http: httpx.AsyncClient, fake: FakeFlickr, secret: str = CONSUMER_SECRET
) -> FlickrNetwork:
    return FlickrNetwork(http, flows.config(fake.base, CONSUMER_KEY, secret))


async def authorize(
    http: httpx.AsyncClient, net: FlickrNetwork, state: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Start connecting and follow Flickr's authorization page back: pending and callback."""
    start = await net.start_connect("", REDIRECT, state)
    assert start.kind == ConnectKind.oauth1
    location = await flows.follow(http, start)
    assert location.startswith(REDIRECT + "?")
    return dict(start.pending), flows.query_of(location)


async def connect(http: httpx.AsyncClient, fake: FakeFlickr, state: str = "s-1") -> Connection:
    net = network(http, fake)
    pending, callback = await authorize(http, net, state)
    return await net.finish_connect(pending, callback, REDIRECT)


async def read_round(
    net: FlickrNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    return await flows.read_round(net, credentials, cursor, "like_id")


def ids(photo_ids: list[int]) -> list[str]:
    return [str(photo_id) for photo_id in photo_ids]


def test_the_class_is_a_registry_entry_configured_by_key_and_secret() -> None:
    entry: NetworkType = FlickrNetwork
    assert not entry.is_configured(NetworkConfig(client_id=CONSUMER_KEY))
    assert entry.is_configured(NetworkConfig(client_id=CONSUMER_KEY, client_secret="s"))
    assert FlickrNetwork.shared_rate_limit and not FlickrNetwork.asks_handle


async def test_connect_runs_the_three_legged_flow_and_test_login(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    net = network(http, flickr)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    assert target.path == "/services/oauth/authorize"
    assert parse_qs(target.query)["perms"] == ["read"]
    # the request token's secret stays in pending (kept server-side), never in the URL
    secret = start.pending["oauth_token_secret"]
    assert secret and secret not in start.redirect_to
    connection = await connect(http, flickr)
    nsid = flickr.users["donor"]
    assert connection.account == Creator(
        "flickr", nsid, "donor", f"https://www.flickr.com/photos/{nsid}/"
    )
    credentials = connection.credentials
    assert credentials.extra["nsid"] == nsid and credentials.extra["token_secret"]
    assert credentials.expires_at is None
    assert await net.refresh(credentials) == credentials
    assert flickr.refused == []


async def test_a_wrong_secret_is_refused_by_the_signature_check(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    with pytest.raises(ConnectFailed, match="signature_invalid"):
        await network(http, flickr, secret="wrong").start_connect("", REDIRECT, "s")
    connection = await connect(http, flickr)
    # an API call signed with the wrong consumer secret: code 96 in a 200
    with pytest.raises(BadPayload, match=r"\(96\): Invalid signature"):
        await network(http, flickr, secret="wrong").list_likes(connection.credentials, None)
    # and with the wrong token secret
    forged = Credentials(
        connection.credentials.access_token, extra={"token_secret": "0" * 16, "nsid": "1@N01"}
    )
    with pytest.raises(BadPayload, match=r"\(96\)"):
        await network(http, flickr).whoami(forged)
    assert flickr.refused == ["signature_invalid"] * 3


async def test_a_wrong_state_token_or_verifier_fails_to_connect(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    net = network(http, flickr)
    pending, callback = await authorize(http, net, "right")
    with pytest.raises(ConnectFailed, match="state"):
        await net.finish_connect(pending, {**callback, "state": "wrong"}, REDIRECT)
    with pytest.raises(ConnectFailed, match="another request token"):
        await net.finish_connect(pending, {**callback, "oauth_token": "other"}, REDIRECT)
    with pytest.raises(ConnectFailed, match="verifier_invalid"):
        await net.finish_connect(pending, {**callback, "oauth_verifier": "bad"}, REDIRECT)
    with pytest.raises(ConnectFailed, match="did not authorize"):
        await net.finish_connect(pending, {**callback, "denied": pending["oauth_token"]}, REDIRECT)
    # the request token's secret signs the exchange: without it, Flickr refuses
    tampered = {**pending, "oauth_token_secret": "x"}
    with pytest.raises(ConnectFailed, match="signature_invalid"):
        await net.finish_connect(tampered, callback, REDIRECT)
    assert (await net.finish_connect(pending, callback, REDIRECT)).account.handle == "donor"


async def test_first_round_reads_every_page_then_the_next_round_only_newer_faves(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    made = [flickr.fave("donor") for _ in range(2 * PAGE_SIZE + 7)]
    connection = await connect(http, flickr)
    net = network(http, flickr)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == ids(made[::-1])
    assert keep == f"min={flickr.faves['donor'][made[-1]]}&seen={made[-1]}"
    with FlickrControl(flickr.base) as control:
        newer = [int(control.fave("donor")["photo_id"]) for _ in range(3)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == ids(newer[::-1])
    assert await read_round(net, connection.credentials, keep) == ([], keep)
    # two faves in the same second as the newest one read: the new one comes, once
    same = flickr.faves["donor"][newer[-1]]
    twin = flickr.fave("donor", date=same)
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == ids([twin])
    assert keep == f"min={same}&seen={twin}%2C{newer[-1]}"
    assert await read_round(net, connection.credentials, keep) == ([], keep)


async def test_faves_made_during_a_round_wait_for_the_next_one(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    made = [flickr.fave("donor") for _ in range(2 * PAGE_SIZE)]
    connection = await connect(http, flickr)
    net = network(http, flickr)
    first = await net.list_likes(connection.credentials, None)
    during = [flickr.fave("donor") for _ in range(5)]  # would push photos onto page 2
    second = await net.list_likes(connection.credentials, first.next_cursor)
    assert second.next_cursor is None
    assert [like.like_id for like in first.likes + second.likes] == ids(made[::-1])
    seen, _ = await read_round(net, connection.credentials, second.cursor_to_keep)
    assert seen == ids(during[::-1])


async def test_a_like_names_the_photo_its_owner_and_the_fave_time(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    photo_id = flickr.fave("donor", "harbour-lights", "Harbour\nat dawn\u0007")
    connection = await connect(http, flickr)
    net = network(http, flickr)
    (like,) = (await net.list_likes(connection.credentials, None)).likes
    owner = flickr.users["harbour-lights"]
    assert like.like_id == like.item_id == str(photo_id)
    assert like.item_url == f"https://www.flickr.com/photos/{owner}/{photo_id}"
    assert like.creator == Creator(
        "flickr", owner, "harbour-lights", f"https://www.flickr.com/photos/{owner}/"
    )
    assert like.title == "Harbour at dawn"
    assert like.liked_at == datetime.fromtimestamp(flickr.faves["donor"][photo_id], UTC)
    resolved = await net.resolve_item(connection.credentials, like.item_id)
    assert resolved.creator == like.creator and resolved.item_url == like.item_url
    assert resolved.liked_at is None
    with pytest.raises(BadPayload, match="photo id"):
        await net.resolve_item(connection.credentials, "../1")


async def test_a_429_mid_round_resumes_at_the_stored_cursor_without_loss_or_duplicate(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    made = [flickr.fave("donor") for _ in range(3 * PAGE_SIZE)]
    connection = await connect(http, flickr)  # test.login counts: 1
    net = network(http, flickr)
    flickr.knobs.rate_limit = 3
    seen: list[str] = []
    stored: str | None = None
    with pytest.raises(RateLimited):
        while True:
            page = await net.list_likes(connection.credentials, stored)
            seen += [like.like_id for like in page.likes]
            stored = page.next_cursor
            assert stored is not None
    assert len(seen) == 2 * PAGE_SIZE
    flickr.fave("donor")  # a fave while the round waits: not in this round, not lost
    flickr.knobs.rate_limit = 3600
    flickr.window = (0.0, 0)
    rest, keep = await read_round(net, connection.credentials, stored)
    assert seen + rest == ids(made[::-1])
    assert flickr.over_limit == 0
    newer, _ = await read_round(net, connection.credentials, keep)
    assert len(newer) == 1


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (98, TokenRevoked, "Invalid auth token"),
        (99, TokenRevoked, "Insufficient permissions"),
        (105, NetworkDown, "unavailable"),
        (100, BadPayload, "Invalid API Key"),
    ],
)
async def test_flickr_error_codes_in_a_200_say_what_went_wrong(
    http: httpx.AsyncClient, flickr: FakeFlickr, code: int, error: type[Exception], message: str
) -> None:
    connection = await connect(http, flickr)
    flickr.knobs.error_code = code
    with pytest.raises(error, match=message):
        await network(http, flickr).list_likes(connection.credentials, None)


async def test_revoked_access_and_5xx(http: httpx.AsyncClient, flickr: FakeFlickr) -> None:
    connection = await connect(http, flickr)
    net = network(http, flickr)
    await flows.assert_down_once(net, connection.credentials, flickr.knobs)
    with FlickrControl(flickr.base) as control:
        assert control.revoke("donor") == 1
    with pytest.raises(TokenRevoked, match=r"\(98\)"):
        await net.list_likes(connection.credentials, None)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("too_many", f"photos for {PAGE_SIZE} asked"),
        ("duplicate", "listed twice"),
        ("path_trick", "not an NSID we accept"),
        ("wrong_page", "page 1 answered for page 2"),
        ("out_of_order", "out of order"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, flickr: FakeFlickr, knob: str, message: str
) -> None:
    for _ in range(PAGE_SIZE + 3):
        flickr.fave("donor")
    connection = await connect(http, flickr)
    setattr(flickr.knobs, knob, True)
    with pytest.raises(BadPayload, match=message):
        await read_round(network(http, flickr), connection.credentials, None)


async def test_faves_outside_the_dates_asked_are_a_bad_payload(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    flickr.fave("donor")
    connection = await connect(http, flickr)
    flickr.knobs.ignore_dates = True
    with pytest.raises(BadPayload, match="outside the dates asked"):
        await network(http, flickr).list_likes(connection.credentials, "min=1900000000&seen=")


async def test_an_endless_list_stops_after_a_round_of_pages(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    connection = await connect(http, flickr)
    flickr.knobs.endless = True
    seen, keep = await read_round(network(http, flickr), connection.credentials, None)
    assert len(seen) == len(set(seen)) == MAX_PAGES_PER_ROUND * PAGE_SIZE
    assert keep is not None and keep.startswith("min=")


async def test_a_cursor_we_did_not_write_is_a_bad_payload(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    net = network(http, flickr)
    for cursor in (
        "garbage",
        "min=5",
        "min=x&seen=",
        "min=5&seen=../1",
        "page=2&max=5",
        "page=1&max=5&top=1",
        "page=2&max=5&top=1&other=1",
        "seen=" + ",".join(["1"] * 21) + "&min=5",
    ):
        with pytest.raises(BadPayload, match="cursor"):
            await net.list_likes(Credentials("t", extra={"token_secret": "s"}), cursor)
    assert flickr.requests == 0


async def test_claim_proves_the_account_the_oauth_signed_in(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    flickr.fave("donor", "harbour-lights")
    flickr.authorize_as = "harbour-lights"
    net = network(http, flickr)
    pending, callback = await authorize(http, net, "claim-1")
    creator = await net.verify_claim(pending, callback)
    assert creator.external_id == flickr.users["harbour-lights"]
    assert creator.handle == "harbour-lights"
    with pytest.raises(ConnectFailed):
        await net.verify_claim(pending, callback)  # a request token is used once


async def test_a_replayed_signed_request_is_refused(
    http: httpx.AsyncClient, flickr: FakeFlickr
) -> None:
    connection = await connect(http, flickr)
    net = network(http, flickr)
    url = f"{flickr.base}/services/rest?method=flickr.test.login&format=json&nojsoncallback=1"
    credentials = connection.credentials
    headers = net._signed_get_headers(
        url, credentials.access_token, credentials.extra["token_secret"]
    )
    assert (await http.get(url, headers=headers)).json()["stat"] == "ok"
    again = (await http.get(url, headers=headers)).json()
    assert (again["stat"], again["code"]) == ("fail", 96)
    assert flickr.refused == ["nonce_used"]
