"""FediverseNetwork over real HTTP against the fake Mastodon API on loopback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Credentials, LikesPage, NetworkConfig
from bridges.errors import (
    BadPayload,
    BlockedAddress,
    ConnectFailed,
    NetworkDown,
    RateLimited,
    TokenExpired,
    TokenRevoked,
)
from bridges.fediverse import MAX_PAGES_PER_ROUND, FediverseNetwork, parse_links, parse_server
from tests.support.fakes.mastodon_api import FakeMastodonApi, MastodonControl
from tests.support.instances import free_port

REDIRECT = "https://likewise.example/connect/fediverse/callback"


def network(http: httpx.AsyncClient, allow_private: bool = True) -> FediverseNetwork:
    config = NetworkConfig(allow_private=allow_private, website="https://likewise.example")
    return FediverseNetwork(http, config)


async def connect(http: httpx.AsyncClient, fake: FakeMastodonApi, state: str = "s-1") -> Connection:
    net = network(http)
    start = await net.start_connect(f"@donor@{fake.host}", REDIRECT, state)
    answer = await http.get(start.redirect_to)
    assert answer.status_code in (302, 307), answer.text
    callback = dict(parse_qs(urlsplit(answer.headers["location"]).query))
    flat = {key: values[0] for key, values in callback.items()}
    return await net.finish_connect(start.pending, flat, REDIRECT)


async def read_round(
    net: FediverseNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    """One polling round as the server runs it: status ids seen, cursor to keep."""
    seen: list[str] = []
    while True:
        page: LikesPage = await net.list_likes(credentials, cursor)
        seen += [like.like_id for like in page.likes]
        if page.next_cursor is None:
            return seen, page.cursor_to_keep
        cursor = page.next_cursor


async def test_connect_registers_an_app_and_runs_the_code_flow_with_pkce(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    # Given a donor on the fake server
    net = network(http)
    start = await net.start_connect(f"donor@{mastodon.host}", REDIRECT, "state-1")
    query = parse_qs(urlsplit(start.redirect_to).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["read:favourites read:accounts"]
    assert start.pending["client_id"] in mastodon.apps
    # When the authorization page redirects back and we finish
    connection = await connect(http, mastodon)
    # Then the donor's actor is known and the token works
    assert connection.account.external_id == f"{mastodon.base}/users/donor"
    assert connection.account.handle == f"@donor@{mastodon.host}"
    assert connection.credentials.scopes == ("read:favourites", "read:accounts")
    assert connection.credentials.extra["base_url"] == mastodon.base
    assert (await net.refresh(connection.credentials)) == connection.credentials


async def test_a_wrong_state_a_refusal_or_a_wrong_verifier_fail_to_connect(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    net = network(http)
    start = await net.start_connect(mastodon.base, REDIRECT, "right")
    answer = await http.get(start.redirect_to)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    with pytest.raises(ConnectFailed, match="state"):
        await net.finish_connect(start.pending, {"code": code, "state": "wrong"}, REDIRECT)
    tampered = {**start.pending, "code_verifier": "x" * 64}
    with pytest.raises(ConnectFailed, match="refused the authorization code"):
        await net.finish_connect(tampered, {"code": code, "state": "right"}, REDIRECT)
    mastodon.knobs.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(http, mastodon)


async def test_first_round_pages_back_then_the_resume_cursor_gives_only_newer_likes(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    # Given 95 favourites before connecting
    made = [mastodon.favourite("donor") for _ in range(95)]
    connection = await connect(http, mastodon)
    net = network(http)
    # When the first round reads every page (40, 40, 15)
    seen, keep = await read_round(net, connection.credentials, None)
    # Then every favourite came once, newest first
    assert seen == [item["status_id"] for item in reversed(made)]
    assert keep == f"min_id={made[-1]['favourite_id']}"
    # When three more arrive (through the control API), the next round sees only them
    with MastodonControl(mastodon.base) as control:
        newer = [control.favourite("donor") for _ in range(3)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == [item["status_id"] for item in reversed(newer)]
    # And a round with nothing new keeps its place
    assert await read_round(net, connection.credentials, keep) == ([], keep)


async def test_more_than_a_page_of_newer_likes_is_read_forward_to_the_newest(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    mastodon.favourite("donor")
    connection = await connect(http, mastodon)
    net = network(http)
    _, keep = await read_round(net, connection.credentials, None)
    newer = [mastodon.favourite("donor") for _ in range(45)]
    first = await net.list_likes(connection.credentials, keep)
    assert len(first.likes) == 40 and first.next_cursor is not None
    second = await net.list_likes(connection.credentials, first.next_cursor)
    got = {like.like_id for like in first.likes + second.likes}
    assert got == {item["status_id"] for item in newer}
    assert second.next_cursor is None
    assert second.cursor_to_keep == f"min_id={newer[-1]['favourite_id']}"


async def test_a_like_names_the_status_uri_and_its_author_without_markup(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    made = mastodon.favourite("donor", "bob@remote.example", "<p>Hello <b>world</b> &amp; all</p>")
    connection = await connect(http, mastodon)
    page = await network(http).list_likes(connection.credentials, None)
    (like,) = page.likes
    assert like.like_id == made["status_id"]
    assert like.item_id == like.item_url == made["uri"]
    assert like.creator.external_id == "https://remote.example/users/bob"
    assert like.creator.handle == "@bob@remote.example"
    assert like.creator.profile_url == "https://remote.example/@bob"
    assert like.title == "Hello world & all"  # the fake's <script> went with the tags
    assert like.liked_at is None
    assert page.rate is not None and page.rate.limit == 300 and page.rate.remaining is not None
    resolved = await network(http).resolve_item(connection.credentials, like.like_id)
    assert resolved == like


async def test_servers_before_4_2_give_the_actor_through_webfinger_and_status_uris(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    mastodon.knobs.no_account_uri = True
    mastodon.favourite("donor", "carol@elsewhere.example")
    connection = await connect(http, mastodon)
    assert connection.account.external_id == f"{mastodon.base}/users/donor"
    (like,) = (await network(http).list_likes(connection.credentials, None)).likes
    assert like.creator.external_id == "https://elsewhere.example/users/carol"


async def test_over_the_rate_limit_is_rate_limited_with_the_time_to_wait(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    connection = await connect(http, mastodon)  # verify_credentials counts: 1
    mastodon.knobs.rate_limit = 2
    net = network(http)
    page = await net.list_likes(connection.credentials, None)
    assert page.rate is not None and page.rate.remaining == 0
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(connection.credentials, None)
    assert 250 < raised.value.retry_after <= 300
    assert mastodon.over_limit == 0


@pytest.mark.parametrize(("state", "error"), [("expired", TokenExpired), ("revoked", TokenRevoked)])
async def test_an_expired_or_revoked_token_says_which(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi, state: str, error: type[Exception]
) -> None:
    connection = await connect(http, mastodon)
    with MastodonControl(mastodon.base) as control:
        assert control.tokens("donor", state) == 1
    with pytest.raises(error):
        await network(http).list_likes(connection.credentials, None)


async def test_a_refresh_token_is_used_when_the_server_gives_one(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    mastodon.knobs.refresh_tokens = True
    connection = await connect(http, mastodon)
    assert connection.credentials.expires_at is not None
    net = network(http)
    renewed = await net.refresh(connection.credentials)
    assert renewed.access_token != connection.credentials.access_token
    assert (await net.list_likes(renewed, None)).likes == ()
    with pytest.raises(TokenRevoked):
        await net.refresh(connection.credentials)  # a refresh token is used once


async def test_5xx_and_a_closed_port_are_network_down(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    connection = await connect(http, mastodon)
    mastodon.knobs.fail_5xx = 1
    with pytest.raises(NetworkDown):
        await network(http).list_likes(connection.credentials, None)
    closed = Credentials(
        "t", extra={**connection.credentials.extra, "base_url": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(NetworkDown):
        await network(http).list_likes(closed, None)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("too_many", "statuses for 40 asked"),
        ("missing_author", "has no account"),
        ("path_trick", "not an id we accept"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi, knob: str, message: str
) -> None:
    for _ in range(3):
        mastodon.favourite("donor")
    connection = await connect(http, mastodon)
    setattr(mastodon.knobs, knob, True)
    with pytest.raises(BadPayload, match=message):
        await network(http).list_likes(connection.credentials, None)


async def test_a_link_that_loops_or_moves_back_is_a_bad_payload(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    for _ in range(85):
        mastodon.favourite("donor")
    connection = await connect(http, mastodon)
    net = network(http)
    mastodon.knobs.link_loop = True
    with pytest.raises(BadPayload, match="loops or moves back"):
        await read_round(net, connection.credentials, None)
    mastodon.knobs.link_loop = False
    mastodon.knobs.link_backwards = True
    with pytest.raises(BadPayload, match="loops or moves back"):
        await read_round(net, connection.credentials, None)
    first = await net.list_likes(connection.credentials, None)
    newest = first.resume_cursor
    assert newest is not None
    mastodon.favourite("donor")
    with pytest.raises(BadPayload, match="moved back"):
        await net.list_likes(connection.credentials, newest)


async def test_private_addresses_and_plain_http_are_refused_outside_dev_mode(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    net = network(http, allow_private=False)
    with pytest.raises(BlockedAddress, match="non-public"):
        await net.start_connect(f"donor@{mastodon.host}", REDIRECT, "s")
    with pytest.raises(BlockedAddress, match="scheme"):
        await net.start_connect(mastodon.base, REDIRECT, "s")
    assert mastodon.apps == {}


def test_handles_and_addresses_name_a_server() -> None:
    assert parse_server("@alice@Mastodon.Example") == "https://mastodon.example"
    assert parse_server("alice@mastodon.example") == "https://mastodon.example"
    assert parse_server("https://mastodon.example/@alice") == "https://mastodon.example"
    assert parse_server("alice@127.0.0.1:8000", allow_private=True) == "http://127.0.0.1:8000"
    for bad in ("alice", "alice@", "a/b@x.example", "alice@x.example/../y", "ftp://x.example"):
        with pytest.raises(ConnectFailed):
            parse_server(bad)


async def test_a_cursor_we_did_not_write_is_a_bad_payload(http: httpx.AsyncClient) -> None:
    credentials = Credentials("t", extra={"base_url": "https://mastodon.example"})
    for cursor in ("garbage", "min_id=../x", "max_id=5", "max_id=5&newest=9&pages=x"):
        with pytest.raises(BadPayload, match="cursor"):
            await network(http).list_likes(credentials, cursor)


def test_link_headers_give_their_cursors() -> None:
    header = (
        '<https://m.example/api/v1/favourites?limit=2&max_id=23716836>; rel="next", '
        '<https://m.example/api/v1/favourites?limit=2&min_id=23716978>; rel="prev"'
    )
    links = parse_links(header)
    assert links["next"]["max_id"] == "23716836"
    assert links["prev"]["min_id"] == "23716978"
    assert parse_links("garbage") == {}


async def test_an_endless_list_stops_after_a_round_of_pages(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    mastodon.favourite("donor")
    connection = await connect(http, mastodon)
    mastodon.knobs.endless = True
    seen, keep = await read_round(network(http), connection.credentials, None)
    assert len(seen) == MAX_PAGES_PER_ROUND * 40
    assert keep is not None and keep.startswith("min_id=")


async def test_a_server_that_does_not_answer_in_time_is_network_down(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    with MastodonControl(mastodon.base) as control:
        token = control.issue_token("donor")
        control.knobs(delay=2.0)
    net = network(http)
    net.fetcher.total_timeout = 0.3
    with pytest.raises(NetworkDown, match="timed out"):
        await net.list_likes(Credentials(token, extra={"base_url": mastodon.base}), None)
