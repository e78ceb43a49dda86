"""XNetwork over real HTTP against the fake X API v2 on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, Credentials, NetworkConfig
from bridges.budgets import MemoryBudget
from bridges.errors import (
    BadPayload,
    BudgetSpent,
    ConnectFailed,
    RateLimited,
    TokenExpired,
    TokenRevoked,
)
from bridges.registry import NetworkType
from bridges.x import BUDGET, MAX_PAGES_PER_ROUND, XNetwork
from tests.support import bridge_flows as flows
from tests.support.bridge_flows import read_round
from tests.support.fakes.server import serve
from tests.support.fakes.x import FakeX, XControl

REDIRECT = flows.redirect_for("x")


@pytest.fixture
def x() -> Iterator[tuple[FakeX, str]]:
    fake = FakeX()
    with serve(fake) as base:
        yield fake, base


def network(http: httpx.AsyncClient, base: str, budget: MemoryBudget | None = None) -> XNetwork:
    return XNetwork(http, flows.config(base), budget)


async def authorize(
    net: XNetwork, http: httpx.AsyncClient
) -> tuple[dict[str, str], dict[str, str]]:
    return await flows.authorize(net, http, REDIRECT)


async def connect(net: XNetwork, http: httpx.AsyncClient) -> Connection:
    return await flows.connect(net, http, REDIRECT)


async def signed_in(http: httpx.AsyncClient, base: str) -> tuple[XNetwork, Credentials]:
    """The network on the fake, and the donor's credentials after connecting."""
    net = network(http, base)
    return net, (await connect(net, http)).credentials


def test_the_class_is_a_registry_entry() -> None:
    entry: NetworkType = XNetwork
    assert entry.is_configured(NetworkConfig(client_id="i", client_secret="s", budget_limit=10_000))
    assert not entry.is_configured(NetworkConfig(client_id="i", client_secret="s"))  # opt-in
    assert not entry.is_configured(NetworkConfig(budget_limit=10_000))


async def test_connect_with_pkce_and_basic_client_auth_reads_the_account(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    net = network(http, base)
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert target.path == "/i/oauth2/authorize"
    assert query["scope"] == ["tweet.read users.read like.read offline.access"]
    assert query["code_challenge_method"] == ["S256"]
    connection = await connect(net, http)  # the fake takes the secret only as HTTP Basic
    user_id = str(fake.users["donor"])
    assert connection.account.external_id == user_id
    assert connection.account.handle == "@donor"
    assert connection.account.profile_url == "https://x.com/donor"
    assert connection.credentials.extra == {"user_id": user_id}
    assert connection.credentials.refresh_token
    fake.provider.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(net, http)


async def test_a_claim_proves_the_account(http: httpx.AsyncClient, x: tuple[FakeX, str]) -> None:
    fake, base = x
    creator = fake.add_account("painter")
    await http.post(f"{base}/_test/authorize_as", json={"user": "painter"})
    net = network(http, base)
    pending, callback = await authorize(net, http)
    claimed = await net.verify_claim(pending, callback)
    assert (claimed.network, claimed.external_id, claimed.handle) == ("x", str(creator), "@painter")


async def test_first_round_pages_back_then_only_newer_likes(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    # Given 250 liked posts (pages of 100, 100, 50)
    fake, base = x
    made = [fake.like("donor") for _ in range(250)]
    net, credentials = await signed_in(http, base)
    # When the first round reads every page
    seen, keep = await read_round(net, credentials, None)
    # Then every like came once, newest first
    assert seen == [str(post.id) for post in reversed(made)]
    # When two more arrive (through the control API), the next round sees only them
    with XControl(base) as control:
        newer = [control.like("donor") for _ in range(2)]
    reads = fake.reads
    seen, keep = await read_round(net, credentials, keep)
    assert seen == [item["post_id"] for item in reversed(newer)]
    assert fake.reads == reads + 1
    # And a round with nothing new keeps its place
    assert await read_round(net, credentials, keep) == ([], keep)


async def test_unliking_the_newest_like_seen_does_not_send_the_round_back(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    made = [fake.like("donor") for _ in range(150)]
    net, credentials = await signed_in(http, base)
    _, keep = await read_round(net, credentials, None)
    fake.unlike("donor", made[-1].id)
    fake.unlike("donor", made[-2].id)
    newer = fake.like("donor")
    reads = fake.reads
    seen, _ = await read_round(net, credentials, keep)
    assert seen == [str(newer.id)]
    assert fake.reads == reads + 1


async def test_a_like_names_the_post_by_id_and_its_author(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    post = fake.like("donor", author="alexdev")
    net, credentials = await signed_in(http, base)
    page = await net.list_likes(credentials, None)
    (like,) = page.likes
    assert like.like_id == like.item_id == str(post.id)
    assert like.item_url == f"https://x.com/i/web/status/{post.id}"
    assert like.creator.external_id == str(fake.users["alexdev"])
    assert like.creator.handle == "@alexdev"
    assert like.liked_at is None and like.title == post.text
    assert page.rate is not None and page.rate.limit == 75
    assert await net.resolve_item(credentials, like.item_id) == like


async def test_a_429_mid_round_resumes_from_the_stored_cursor_without_duplicate_or_loss(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    # Given 350 likes and a limit that stops the round after its second page
    fake, base = x
    made = [fake.like("donor") for _ in range(350)]
    net, credentials = await signed_in(http, base)  # users/me: 1 read
    fake.knobs.rate_limit = 3
    seen: list[str] = []
    stored: str | None = None
    for _ in range(2):
        page = await net.list_likes(credentials, stored)
        seen += [like.item_id for like in page.likes]
        stored = page.next_cursor
    # When the third page is answered 429 with x-rate-limit-reset
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(credentials, stored)
    assert not isinstance(raised.value, BudgetSpent)
    assert 850 < raised.value.retry_after <= 900
    assert fake.over_limit == 0
    # Then once the window resets the stored cursor finishes the round
    fake.knobs.rate_limit = 75
    rest, keep = await read_round(net, credentials, stored)
    assert seen + rest == [str(post.id) for post in reversed(made)]
    assert keep is not None and keep.startswith("stop=")


async def test_the_instance_budget_is_spent_before_each_read_and_says_so(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    fake.like("donor")
    budget = MemoryBudget(2)
    net = network(http, base, budget)
    credentials = (await connect(net, http)).credentials  # users/me: 1
    await net.list_likes(credentials, None)  # liked_tweets: 2
    reads = fake.requests
    resume = BUDGET.period.next_start()
    said = f"X request budget for the month is spent; checks resume on {resume:%Y-%m-%d}"
    with pytest.raises(BudgetSpent, match=said) as raised:
        await net.list_likes(credentials, None)
    assert fake.requests == reads  # nothing was sent
    assert raised.value.retry_after == pytest.approx(BUDGET.period.seconds_left(), abs=5)
    assert budget.used == {BUDGET.period.key(): 2}
    renewed = await net.refresh(credentials)  # token requests are not reads
    assert renewed.access_token != credentials.access_token


async def test_x_own_monthly_cap_is_budget_spent(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    net, credentials = await signed_in(http, base)
    fake.knobs.cap = fake.reads
    with pytest.raises(BudgetSpent, match="Monthly product cap"):
        await net.list_likes(credentials, None)


def test_the_budget_is_the_admins_requests_in_a_utc_month() -> None:
    assert XNetwork.budget_terms == BUDGET
    assert (BUDGET.limit({"monthly_requests": "7"}), BUDGET.limit({})) == (7, 0)
    late = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert BUDGET.period.key(late) == "2026-12"
    assert BUDGET.period.seconds_left(late) == 3600
    assert BUDGET.period.next_start(late) == datetime(2027, 1, 1, tzinfo=UTC)
    assert BUDGET.period.key(late + timedelta(hours=2)) == "2027-01"
    assert BUDGET.period.next_start(datetime(2027, 2, 1, tzinfo=UTC)).date().isoformat() == (
        "2027-03-01"
    )


async def test_token_expiry_refresh_and_revocation(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    fake.like("donor")
    budget = MemoryBudget(100)
    net = network(http, base, budget)
    credentials = (await connect(net, http)).credentials
    assert credentials.expires_at is not None
    assert credentials.expires_at > datetime.now(UTC) + timedelta(hours=1, minutes=59)
    credentials.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(TokenExpired):
        await net.list_likes(credentials, None)
    assert budget.used == {BUDGET.period.key(): 1}  # the expired token spent nothing
    renewed = await net.refresh(credentials)
    assert renewed.extra == credentials.extra
    assert len((await net.list_likes(renewed, None)).likes) == 1
    again = await flows.assert_expired_then_revoked(net, http, base, renewed)
    with pytest.raises(TokenRevoked):
        await net.list_likes(Credentials(again.access_token, extra=again.extra), None)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("too_many", "more than 100"),
        ("duplicate", "listed twice"),
        ("missing_author", "not in includes.users"),
        ("path_trick", "not an id we accept"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, x: tuple[FakeX, str], knob: str, message: str
) -> None:
    fake, base = x
    for _ in range(3):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    await flows.assert_hostile(net, credentials, fake.knobs, knob, message)


async def test_a_next_token_that_does_not_move_is_a_bad_payload(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    for _ in range(250):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    first = await net.list_likes(credentials, None)
    fake.knobs.stuck_token = True
    with pytest.raises(BadPayload, match="does not move"):
        await net.list_likes(credentials, first.next_cursor)


async def test_5xx_is_network_down(http: httpx.AsyncClient, x: tuple[FakeX, str]) -> None:
    fake, base = x
    net, credentials = await signed_in(http, base)
    await flows.assert_down_once(net, credentials, fake.knobs)


async def test_a_long_list_stops_after_a_round_of_pages(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    fake, base = x
    for _ in range(100 * MAX_PAGES_PER_ROUND + 5):
        fake.like("donor")
    net, credentials = await signed_in(http, base)
    seen, keep = await read_round(net, credentials, None)
    assert len(seen) == 100 * MAX_PAGES_PER_ROUND
    assert keep is not None and "stop=" in keep


async def test_a_cursor_we_did_not_write_is_a_bad_payload(
    http: httpx.AsyncClient, x: tuple[FakeX, str]
) -> None:
    _, base = x
    net = network(http, base)
    credentials = Credentials("t", extra={"user_id": "2244994945"})
    for cursor in ("garbage", "stop=abc", "page=a/b", "head_at=x", "stop=1&stop=2"):
        with pytest.raises(BadPayload, match="cursor"):
            await net.list_likes(credentials, cursor)
    with pytest.raises(BadPayload, match="not an id"):
        await net.list_likes(Credentials("t", extra={"user_id": "../me"}), None)
