"""BlueskyNetwork over real HTTP against the fake AppView, PDS and PLC directory."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bridges.base import Connection, Credentials, NetworkConfig
from bridges.bluesky import (
    BlueskyNetwork,
    bsky_app_url,
    parse_at_uri,
    parse_datetime,
    parse_jetstream_event,
)
from bridges.errors import (
    BadPayload,
    BlockedAddress,
    ConnectFailed,
    NetworkDown,
    RateLimited,
)
from tests.support.fakes.bluesky import BlueskyControl, FakeBluesky, did_for
from tests.support.payloads import load_text

HANDLE = "donor.test"


def network(
    http: httpx.AsyncClient, fake: FakeBluesky, allow_private: bool = True
) -> BlueskyNetwork:
    config = NetworkConfig(base_url=fake.base, directory_url=fake.base, allow_private=allow_private)
    return BlueskyNetwork(http, config)


async def connect(http: httpx.AsyncClient, fake: FakeBluesky) -> Connection:
    net = network(http, fake)
    did = fake.add_account(HANDLE)
    start = await net.start_connect(f"@{HANDLE}", "", "state")
    fake.set_description(did, f"I make things. {start.pending['code']}")
    return await net.finish_connect(start.pending, {}, "")


async def read_round(
    net: BlueskyNetwork, credentials: Credentials, cursor: str | None
) -> tuple[list[str], str | None]:
    seen: list[str] = []
    while True:
        page = await net.list_likes(credentials, cursor)
        seen += [like.like_id for like in page.likes]
        if page.next_cursor is None:
            return seen, page.cursor_to_keep
        cursor = page.next_cursor


async def test_connect_by_handle_and_a_code_in_the_profile(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    net = network(http, bluesky)
    did = bluesky.add_account(HANDLE)
    start = await net.start_connect(HANDLE, "", "state")
    assert start.redirect_to == "" and start.pending["code"] in start.instructions
    assert start.pending["did"] == did and start.pending["pds"] == bluesky.base
    # Without the code anywhere, it fails
    with pytest.raises(ConnectFailed, match="neither in the profile"):
        await net.finish_connect(start.pending, {}, "")
    # With the code in the profile description, it connects
    bluesky.set_description(did, f"hello {start.pending['code']}")
    connection = await net.finish_connect(start.pending, {}, "")
    assert connection.account.external_id == did
    assert connection.account.handle == HANDLE
    assert connection.credentials.extra == {"did": did, "pds": bluesky.base}
    assert connection.credentials.access_token == ""


async def test_a_code_in_a_recent_post_proves_the_claim_too(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    net = network(http, bluesky)
    with BlueskyControl(bluesky.base) as control:
        did = control.add_account("creator.test")
        start = await net.start_connect(did, "", "state")  # a DID works as well as a handle
        control.post(did, f"claiming my likes: {start.pending['code']}")
    creator = await net.verify_claim(start.pending, {})
    assert creator.external_id == did and creator.handle == "creator.test"


async def test_an_unknown_or_malformed_handle_fails(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    net = network(http, bluesky)
    with pytest.raises(ConnectFailed):
        await net.start_connect("not a handle/..", "", "s")
    with pytest.raises(NetworkDown):  # the well-known fallback: no such host here
        await net.start_connect("nobody.invalid", "", "s")


async def test_first_round_pages_back_then_only_newer_likes(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    connection = await connect(http, bluesky)
    did = connection.account.external_id
    made = [bluesky.like(did) for _ in range(230)]
    net = network(http, bluesky)
    seen, keep = await read_round(net, connection.credentials, None)
    assert seen == [item["uri"] for item in reversed(made)]
    assert keep == f"after={made[-1]['rkey']}"
    with BlueskyControl(bluesky.base) as control:
        newer = [control.like(did) for _ in range(105)]
    seen, keep = await read_round(net, connection.credentials, keep)
    assert seen == [item["uri"] for item in newer]  # oldest first
    assert await read_round(net, connection.credentials, keep) == ([], keep)


async def test_a_like_names_the_post_and_its_author_did(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    connection = await connect(http, bluesky)
    author = bluesky.add_account("alice.test")
    post = bluesky.post(author, "a   drawing\nof a cat")
    made = bluesky.like(connection.account.external_id, post, "2026-12-01T10:00:00.123456789+01:00")
    bluesky.like(connection.account.external_id, f"at://{author}/app.bsky.feed.generator/cats")
    page = await network(http, bluesky).list_likes(connection.credentials, None)
    (like,) = page.likes  # the like of a feed generator is left out
    assert like.like_id == made["uri"]
    assert like.item_id == like.item_url == post
    assert like.creator.external_id == author
    assert like.liked_at == datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC)
    assert page.rate is not None and page.rate.limit == 3000 and page.rate.reset_at is not None
    resolved = await network(http, bluesky).resolve_item(connection.credentials, post)
    assert resolved.creator.handle == "alice.test" and resolved.title == "a drawing of a cat"


async def test_a_deleted_like_record_is_gone(http: httpx.AsyncClient, bluesky: FakeBluesky) -> None:
    connection = await connect(http, bluesky)
    made = bluesky.like(connection.account.external_id)
    net = network(http, bluesky)
    assert await net.like_exists(connection.credentials, made["uri"])
    with BlueskyControl(bluesky.base) as control:
        assert control.unlike(connection.account.external_id, made["rkey"])
    assert not await net.like_exists(connection.credentials, made["uri"])
    assert (await net.list_likes(connection.credentials, None)).likes == ()


async def test_over_the_rate_limit_waits_until_the_reset(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    connection = await connect(http, bluesky)
    bluesky.knobs.rate_limit = bluesky.requests + 1
    net = network(http, bluesky)
    await net.list_likes(connection.credentials, None)
    with pytest.raises(RateLimited) as raised:
        await net.list_likes(connection.credentials, None)
    assert 250 < raised.value.retry_after <= 301
    assert bluesky.over_limit == 0


async def test_5xx_is_network_down(http: httpx.AsyncClient, bluesky: FakeBluesky) -> None:
    connection = await connect(http, bluesky)
    bluesky.knobs.fail_5xx = 1
    with pytest.raises(NetworkDown):
        await network(http, bluesky).list_likes(connection.credentials, None)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("malformed_json", "did not answer JSON"),
        ("oversized", "bytes"),
        ("missing_subject", "without a subject"),
        ("path_trick", "not a record key"),
        ("wrong_repo", "is not a like of"),
        ("loose_created_at", "not an RFC 3339 time"),
    ],
)
async def test_hostile_pages_are_bad_payloads(
    http: httpx.AsyncClient, bluesky: FakeBluesky, knob: str, message: str
) -> None:
    connection = await connect(http, bluesky)
    bluesky.like(connection.account.external_id)
    setattr(bluesky.knobs, knob, True)
    with pytest.raises(BadPayload, match=message):
        await network(http, bluesky).list_likes(connection.credentials, None)


@pytest.mark.parametrize(
    ("knob", "message"), [("ignore_cursor", "behind the cursor"), ("wrong_cursor", "not the last")]
)
async def test_a_cursor_that_loops_or_lies_is_a_bad_payload(
    http: httpx.AsyncClient, bluesky: FakeBluesky, knob: str, message: str
) -> None:
    connection = await connect(http, bluesky)
    for _ in range(150):
        bluesky.like(connection.account.external_id)
    setattr(bluesky.knobs, knob, True)
    with pytest.raises(BadPayload, match=message):
        await read_round(network(http, bluesky), connection.credentials, None)


async def test_a_private_pds_or_appview_is_refused_outside_dev_mode(
    http: httpx.AsyncClient, bluesky: FakeBluesky
) -> None:
    net = network(http, bluesky, allow_private=False)
    with pytest.raises(BlockedAddress):
        await net.start_connect(HANDLE, "", "s")
    credentials = Credentials(extra={"did": did_for(HANDLE), "pds": "https://127.0.0.1:1"})
    with pytest.raises(BlockedAddress, match="non-public"):
        await net.list_likes(credentials, None)
    assert bluesky.requests == 0


def test_jetstream_commits_become_likes_and_unlikes() -> None:
    created = parse_jetstream_event(load_text("bridges/bluesky/jetstream_like_create.json"))
    assert created is not None and created.operation == "create"
    assert created.time_us == 1725911162329308
    assert (
        created.like_uri == "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.like/3l3qo2vuowo2b"
    )
    assert created.like is not None
    assert created.like.creator.external_id == "did:plc:wa7b35aakoll7hugkrjtf3xf"
    assert created.like.liked_at == datetime(2024, 9, 9, 19, 46, 2, 102000, tzinfo=UTC)
    deleted = parse_jetstream_event(
        load_text("bridges/bluesky/jetstream_like_delete.json").encode()
    )
    assert deleted is not None and deleted.operation == "delete" and deleted.like is None
    assert deleted.like_uri == created.like_uri
    assert parse_jetstream_event(load_text("bridges/bluesky/jetstream_identity.json")) is None
    for bad in (
        b"{",
        b'{"kind": "commit", "did": "x", "commit": {"collection": "app.bsky.feed.like"}}',
    ):
        with pytest.raises(BadPayload):
            parse_jetstream_event(bad)


def test_at_uris_and_times_are_read_strictly() -> None:
    did = did_for("a.test")
    uri = parse_at_uri(f"at://{did}/app.bsky.feed.post/3l3pte3p2e325")
    assert (uri.did, uri.rkey) == (did, "3l3pte3p2e325")
    assert bsky_app_url(str(uri)) == f"https://bsky.app/profile/{did}/post/3l3pte3p2e325"
    for bad in (
        f"at://{did}/app.bsky.feed.post/..",
        f"at://{did}/app.bsky.feed.post/a/b",
        "at://alice.test/app.bsky.feed.post/3l3",
        f"https://{did}/app.bsky.feed.post/3l3",
        f"at://{did}/app.bsky.feed.post/3l3?x=1",
    ):
        with pytest.raises(BadPayload):
            parse_at_uri(bad)
    assert parse_datetime("2024-09-09T19:46:02Z") == datetime(2024, 9, 9, 19, 46, 2, tzinfo=UTC)
    for loose in ("2024-09-09T19:46:02", "2024-09-09", "yesterday", 1725911162):
        with pytest.raises(BadPayload):
            parse_datetime(loose)
