"""The Jetstream subscription as bridges/jetstream.py words it: likes only, held until the
hello, resumed a few seconds before the cursor; the hello names at most 10,000 accounts;
an event larger than any like is refused before it is parsed."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from bridges.errors import BadPayload
from bridges.jetstream import (
    MAX_DIDS,
    MAX_MESSAGE_BYTES,
    REWIND_US,
    options_update,
    read_event,
    subscribe_url,
)
from tests.support.payloads import load_text


def test_the_address_asks_for_likes_only_and_waits_for_the_hello() -> None:
    url = subscribe_url("wss://jetstream.example/subscribe")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "jetstream.example", "/subscribe")
    query = parse_qs(parts.query)
    assert query["wantedCollections"] == ["app.bsky.feed.like"]
    assert query["requireHello"] == ["true"]
    assert "cursor" not in query and "wantedDids" not in query


def test_a_resumed_subscription_rewinds_its_cursor_and_never_below_zero() -> None:
    cursor = 1_725_911_162_329_308
    resumed = parse_qs(urlsplit(subscribe_url("ws://127.0.0.1:9/subscribe", cursor)).query)
    assert resumed["cursor"] == [str(cursor - REWIND_US)]
    early = parse_qs(urlsplit(subscribe_url("ws://127.0.0.1:9/subscribe", 10)).query)
    assert early["cursor"] == ["0"]


@pytest.mark.parametrize("base", ["https://jetstream.example/subscribe", "wss://", "subscribe"])
def test_an_address_that_is_no_websocket_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="ws:// or wss://"):
        subscribe_url(base)


def test_the_hello_names_at_most_ten_thousand_accounts_sorted() -> None:
    dids = [f"did:plc:{n:024d}" for n in range(MAX_DIDS + 5, 0, -1)]
    message = json.loads(options_update(dids))
    assert message["type"] == "options_update"
    payload = message["payload"]
    assert payload["wantedCollections"] == ["app.bsky.feed.like"]
    assert payload["wantedDids"] == sorted(dids)[:MAX_DIDS]


def test_events_are_read_and_an_oversized_one_is_refused_unparsed() -> None:
    created = read_event(load_text("bridges/bluesky/jetstream_like_create.json"))
    assert created is not None and created.operation == "create"
    assert read_event(load_text("bridges/bluesky/jetstream_identity.json")) is None
    with pytest.raises(BadPayload, match="bytes"):
        read_event("[" * (MAX_MESSAGE_BYTES + 1))
