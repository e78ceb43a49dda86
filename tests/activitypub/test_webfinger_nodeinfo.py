from __future__ import annotations

import re

import pytest

from activitypub.errors import InvalidDocument, InvalidHandle
from activitypub.nodeinfo import (
    SETTLEMENT_PROTOCOL,
    TOP_LEVEL_KEYS,
    Usage,
    build_nodeinfo,
    build_nodeinfo_links,
    parse_nodeinfo,
    parse_nodeinfo_links,
    settlement_metadata,
)
from activitypub.webfinger import build_jrd, parse_acct, parse_jrd

ACTOR = "https://likewise.example/users/alice"
PROFILE = "https://likewise.example/@alice"
TEMPLATE = "https://likewise.example/authorize_interaction?uri={uri}"


@pytest.mark.parametrize(
    "resource",
    ["acct:alice@Likewise.Example", "alice@likewise.example", "@alice@likewise.example"],
)
def test_parse_acct(resource: str) -> None:
    assert parse_acct(resource) == ("alice", "likewise.example")


def test_parse_acct_with_port_for_dev_mode() -> None:
    assert parse_acct("acct:alice@127.0.0.1:8001") == ("alice", "127.0.0.1:8001")


@pytest.mark.parametrize(
    "resource", ["alice", "acct:alice", "@likewise.example", "alice@", "a/b@x.example", "a@b@c"]
)
def test_parse_acct_refuses(resource: str) -> None:
    with pytest.raises(InvalidHandle):
        parse_acct(resource)


def test_jrd_round_trip() -> None:
    jrd = build_jrd("alice", "likewise.example", ACTOR, PROFILE, TEMPLATE)

    result = parse_jrd(jrd)

    assert jrd["subject"] == "acct:alice@likewise.example"
    assert jrd["aliases"] == [PROFILE, ACTOR]
    assert {"rel": "self", "type": "application/activity+json", "href": ACTOR} in jrd["links"]  # type: ignore[operator]
    assert result.self_href == ACTOR
    assert result.profile_page == PROFILE
    assert result.subscribe_template == TEMPLATE


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"links": []},
        {"subject": "acct:a@b"},
        {"subject": "acct:a@b", "links": "x"},
        {"subject": "acct:a@b", "links": [{"rel": "self", "type": "text/html", "href": "x"}]},
    ],
)
def test_parse_jrd_refuses(data: object) -> None:
    with pytest.raises(InvalidDocument):
        parse_jrd(data)


def test_nodeinfo_links() -> None:
    links = build_nodeinfo_links("https://likewise.example/")
    assert links["links"] == [
        {
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": "https://likewise.example/nodeinfo/2.0",
        },
        {
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": "https://likewise.example/nodeinfo/2.1",
        },
    ]
    assert parse_nodeinfo_links(links) == "https://likewise.example/nodeinfo/2.1"


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_nodeinfo_shape_and_settlement(version: str) -> None:
    document = build_nodeinfo(
        version, "0.1.0", Usage(10, 4, 6, 120), True, settlement_metadata("EUR")
    )

    assert set(document) == TOP_LEVEL_KEYS
    assert document["protocols"] == ["activitypub"]
    software = document["software"]
    assert isinstance(software, dict)
    assert re.fullmatch(r"[a-z0-9-]+", software["name"])
    assert document["usage"] == {
        "users": {"total": 10, "activeMonth": 4, "activeHalfyear": 6},
        "localPosts": 120,
    }
    info = parse_nodeinfo(document)
    assert info.settles
    assert info.settlement is not None and info.settlement.currency == "EUR"
    assert info.settlement.protocol == SETTLEMENT_PROTOCOL


def test_mastodon_nodeinfo_does_not_settle() -> None:
    mastodon = {
        "version": "2.0",
        "software": {"name": "mastodon", "version": "4.3.0"},
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {"users": {"total": 1}, "localPosts": 1},
        "openRegistrations": False,
        "metadata": {"nodeName": "m", "likewise": {"settlement": {"currency": "eur"}}},
    }
    info = parse_nodeinfo(mastodon)
    assert info.software_name == "mastodon" and not info.settles


def test_unsupported_nodeinfo_version() -> None:
    with pytest.raises(InvalidDocument):
        build_nodeinfo("1.0", "0.1.0", Usage(0, 0, 0, 0), False)
    with pytest.raises(InvalidDocument):
        parse_nodeinfo({"version": 2})
