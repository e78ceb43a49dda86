"""GitHubNetwork over real HTTP against the fake GitHub on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
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
from bridges.github import MAX_PAGES_PER_ROUND, PAGE_SIZE, GitHubNetwork
from bridges.registry import NetworkType
from tests.support import bridge_flows as flows
from tests.support.fakes.github import FakeGitHub, GitHubControl
from tests.support.fakes.oauth2 import CLIENT_SECRET
from tests.support.fakes.server import serve

REDIRECT = flows.redirect_for("github")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    with serve(fake):
        yield fake


def network(
    http: httpx.AsyncClient, fake: FakeGitHub, secret: str = CLIENT_SECRET
) -> GitHubNetwork:
    return GitHubNetwork(http, flows.config(f"http://{fake.host}", client_secret=secret))


async def authorize(
    net: GitHubNetwork, http: httpx.AsyncClient, handle: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    return await flows.authorize(net, http, REDIRECT, handle)


async def connect(http: httpx.AsyncClient, fake: FakeGitHub) -> Connection:
    return await flows.connect(network(http, fake), http, REDIRECT)


async def read_round(
    net: GitHubNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    return await flows.read_round(net, credentials, cursor, "like_id")


def ids(made: list[dict[str, str]]) -> list[str]:
    """Repository ids newest star first, as GitHub lists them."""
    return [item["repo_id"] for item in reversed(made)]


def test_the_class_is_a_registry_entry() -> None:
    entry: NetworkType = GitHubNetwork
    assert entry.is_configured(NetworkConfig(client_id="i", client_secret="s"))
    assert not entry.is_configured(NetworkConfig(client_id="i"))


async def test_connect_runs_the_oauth_app_flow_and_reads_the_user(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    net = network(http, github)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert target.path == "/login/oauth/authorize"
    assert query["scope"] == ["read:user"] and "code_challenge" not in query
    connection = await connect(http, github)
    donor = github.accounts["donor"]
    assert connection.account.network == "github"
    assert connection.account.external_id == str(donor.id)
    assert connection.account.handle == "donor"
    assert connection.account.profile_url == "https://github.com/donor"
    assert connection.credentials.scopes == ("read:user",)  # GitHub's "read:user" answer
    assert connection.credentials.refresh_token == "" and connection.credentials.expires_at is None


async def test_a_refused_code_or_secret_answered_with_200_fails_the_connection(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    net = network(http, github)
    pending, callback = await authorize(net, http)
    await net.finish_connect(pending, callback, REDIRECT)
    with pytest.raises(ConnectFailed, match="incorrect or expired"):
        await net.finish_connect(pending, callback, REDIRECT)  # a code is used once
    wrong = network(http, github, secret="wrong")
    pending, callback = await authorize(wrong, http)
    with pytest.raises(ConnectFailed, match="refused"):
        await wrong.finish_connect(pending, callback, REDIRECT)
    github.provider.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(http, github)


async def test_first_round_reads_every_page_then_only_newer_stars(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    made = [github.star("donor", owner=f"owner{index % 7}") for index in range(250)]
    connection = await connect(http, github)
    net = network(http, github)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == [item["repo_id"] for item in reversed(made)]
    newest = datetime.fromisoformat(made[-1]["starred_at"].replace("Z", "+00:00"))
    assert keep == f"since={made[-1]['repo_id']}&at={int(newest.timestamp())}"
    with GitHubControl(f"http://{github.host}") as control:
        newer = [control.star("donor", owner="tidewater") for _ in range(3)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == [item["repo_id"] for item in reversed(newer)]
    assert await read_round(net, connection.credentials, keep) == ([], keep)


async def test_a_like_names_the_repository_and_its_owner(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    github.add_account("tidewater", "Organization")
    made = github.star("donor", owner="tidewater", name="tide.tables")
    connection = await connect(http, github)
    page = await network(http, github).list_likes(connection.credentials, None)
    (like,) = page.likes
    assert like.like_id == like.item_id == made["repo_id"]
    assert like.item_url == "https://github.com/tidewater/tide.tables"
    assert like.title == "tidewater/tide.tables"
    assert like.creator.external_id == str(github.accounts["tidewater"].id)
    assert like.creator.handle == "tidewater"
    assert like.creator.profile_url == "https://github.com/tidewater"
    assert like.liked_at == datetime.fromisoformat(made["starred_at"].replace("Z", "+00:00"))
    assert like.liked_at.tzinfo == UTC
    assert page.rate is not None and page.rate.limit == 5000 and page.rate.remaining is not None
    resolved = await network(http, github).resolve_item(connection.credentials, like.item_id)
    assert resolved == replace(like, liked_at=None)
    with pytest.raises(BadPayload):
        await network(http, github).resolve_item(connection.credentials, "../admin")


async def test_more_than_a_page_of_newer_stars_is_read_down_to_the_last_seen(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    github.star("donor")
    connection = await connect(http, github)
    net = network(http, github)
    _, keep = await read_round(net, connection.credentials, None)
    newer = [github.star("donor") for _ in range(PAGE_SIZE + 30)]
    seen, again = await read_round(net, connection.credentials, keep)
    assert seen == [item["repo_id"] for item in reversed(newer)]
    assert again is not None and again.startswith(f"since={newer[-1]['repo_id']}&")
    # the last seen star unstarred: the round stops at the first older star instead
    github.unstar("donor", int(newer[-1]["repo_id"]))
    newest = [github.star("donor") for _ in range(2)]
    seen, _ = await read_round(net, connection.credentials, again)
    assert seen == [item["repo_id"] for item in reversed(newest)]


async def test_the_first_round_reads_a_bounded_number_of_pages(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    made = [github.star("donor") for _ in range(MAX_PAGES_PER_ROUND * PAGE_SIZE + 5)]
    connection = await connect(http, github)
    seen, keep = await read_round(network(http, github), connection.credentials, None)
    assert len(seen) == MAX_PAGES_PER_ROUND * PAGE_SIZE
    assert seen == [item["repo_id"] for item in reversed(made)][: len(seen)]
    assert keep is not None and keep.startswith(f"since={made[-1]['repo_id']}&")


async def test_a_rate_limit_mid_round_resumes_at_the_checkpoint_without_loss_or_duplicate(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    made = [github.star("donor") for _ in range(250)]
    connection = await connect(http, github)  # GET /user: one read
    net = network(http, github)
    github.knobs.rate_limit = 2
    first = await net.list_likes(connection.credentials, None)
    assert first.rate is not None and first.rate.remaining == 0
    checkpoint = first.next_cursor  # what the server stores after the page
    # GitHub answers the exhausted limit with 403 and remaining 0: a wait, not a revocation
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(connection.credentials, checkpoint)
    assert 3000 < raised.value.retry_after <= 3600
    # stars added while the round waits push the page down by two
    added = [github.star("donor") for _ in range(2)]
    github.knobs.rate_limit = 5000
    seen, keep = await read_round(net, connection.credentials, checkpoint)
    all_seen = [like.like_id for like in first.likes] + seen
    assert all_seen == [item["repo_id"] for item in reversed(made)]
    assert len(set(all_seen)) == len(all_seen)
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == [item["repo_id"] for item in reversed(added)]
    assert github.over_limit == 0


async def test_more_than_a_page_of_stars_added_while_a_round_waits_is_left_to_the_next(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    made = [github.star("donor") for _ in range(250)]
    connection = await connect(http, github)
    net = network(http, github)
    first = await net.list_likes(connection.credentials, None)
    added = [github.star("donor") for _ in range(PAGE_SIZE + 20)]  # page 2 is all new now
    seen, keep = await read_round(net, connection.credentials, first.next_cursor)
    everything = [like.like_id for like in first.likes] + seen
    assert everything == ids(made)
    seen, _ = await read_round(net, connection.credentials, keep)
    assert seen == ids(added)


@pytest.mark.parametrize(
    ("knob", "value", "wait"), [("rate_status", 429, None), ("secondary", 1, 60)]
)
async def test_a_429_or_a_secondary_limit_is_rate_limited(
    http: httpx.AsyncClient, github: FakeGitHub, knob: str, value: int, wait: int | None
) -> None:
    connection = await connect(http, github)
    setattr(github.knobs, knob, value)
    if knob == "rate_status":
        github.knobs.rate_limit = 1
    with pytest.raises(RateLimited) as raised:
        await network(http, github).list_likes(connection.credentials, None)
    if wait is None:  # a 429 waits until x-ratelimit-reset
        assert 3000 < raised.value.retry_after <= 3600
    else:
        assert raised.value.retry_after == wait


async def test_a_revoked_token_or_a_plain_403_is_revoked_access(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    connection = await connect(http, github)
    net = network(http, github)
    github.knobs.forbidden = True
    with pytest.raises(TokenRevoked, match="403"):
        await net.list_likes(connection.credentials, None)
    github.knobs.forbidden = False
    await http.post(f"http://{github.host}/_test/token", json={"user": "donor", "state": "revoked"})
    with pytest.raises(TokenRevoked, match="Bad credentials"):
        await net.list_likes(connection.credentials, None)
    with pytest.raises(TokenRevoked, match="no refresh token"):
        await net.refresh(connection.credentials)


async def test_expiring_user_tokens_are_refreshed(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    github.provider.expires_in = 28800  # GitHub's expiring user tokens: eight hours
    github.star("donor")
    connection = await connect(http, github)
    net = network(http, github)
    assert connection.credentials.refresh_token and connection.credentials.expires_at
    await http.post(f"http://{github.host}/_test/token", json={"user": "donor", "state": "expired"})
    with pytest.raises(TokenExpired):
        await net.list_likes(connection.credentials, None)
    renewed = await net.refresh(connection.credentials)
    assert len((await net.list_likes(renewed, None)).likes) == 1
    with pytest.raises(TokenRevoked):
        await net.refresh(connection.credentials)  # a refresh token is used once


@pytest.mark.parametrize(
    "knob",
    [
        "malformed_json",
        "oversized",
        "too_many",
        "duplicate",
        "bad_owner_id",
        "bad_name",
        "missing_owner",
        "link_outside",
        "link_stuck",
    ],
)
async def test_a_hostile_answer_fails_the_page(
    http: httpx.AsyncClient, github: FakeGitHub, knob: str
) -> None:
    for _ in range(PAGE_SIZE + 1):
        github.star("donor")
    connection = await connect(http, github)
    await flows.assert_hostile(network(http, github), connection.credentials, github.knobs, knob)


@pytest.mark.parametrize(
    "cursor",
    ["page=2", "since=1", "at=5", "since=x&at=1", "page=0", "since=1&at=1&since=2", "what=1", "%%"],
)
async def test_a_bad_stored_cursor_is_a_bad_payload(
    http: httpx.AsyncClient, github: FakeGitHub, cursor: str
) -> None:
    connection = await connect(http, github)
    with pytest.raises(BadPayload):
        await network(http, github).list_likes(connection.credentials, cursor)


async def test_5xx_is_network_down(http: httpx.AsyncClient, github: FakeGitHub) -> None:
    connection = await connect(http, github)
    await flows.assert_down_once(network(http, github), connection.credentials, github.knobs)


async def test_a_claim_proves_the_user_or_an_organisation_it_administers(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    net = network(http, github)
    pending, callback = await authorize(net, http)
    user = await net.verify_claim(pending, callback)
    assert user.external_id == str(github.accounts["donor"].id) and user.handle == "donor"
    # an organisation: read:org is asked, and an active admin membership proves it
    with GitHubControl(f"http://{github.host}") as control:
        control.membership("tidewater", "donor")
    start = await net.start_connect("tidewater", REDIRECT, "s")
    assert parse_qs(urlsplit(start.redirect_to).query)["scope"] == ["read:user read:org"]
    pending, callback = await authorize(net, http, "tidewater")
    org = await net.verify_claim(pending, callback)
    assert org.external_id == str(github.accounts["tidewater"].id)
    assert org.handle == "tidewater" and org.profile_url == "https://github.com/tidewater"
    # a plain member, a pending invitation or no membership proves nothing
    for state, role in (("active", "member"), ("pending", "admin")):
        github.memberships[("tidewater", "donor")] = (state, role)
        pending, callback = await authorize(net, http, "tidewater")
        with pytest.raises(ConnectFailed, match="not an admin"):
            await net.verify_claim(pending, callback)
    pending, callback = await authorize(net, http, "elsewhere")
    with pytest.raises(ConnectFailed, match="not a member"):
        await net.verify_claim(pending, callback)
    with pytest.raises(ConnectFailed, match="not a GitHub account name"):
        await net.start_connect("../admin", REDIRECT, "s")
