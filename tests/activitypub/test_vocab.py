from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub.errors import InvalidActivity
from activitypub.jsonld import PUBLIC_COLLECTION
from activitypub.vocab import (
    MAX_DEPTH,
    PLAIN_HTTP_URI,
    UNSAFE_URI_CHARACTER,
    EmbeddedObject,
    check_uri_parts,
    parse_activity,
    parse_actor,
    parse_note,
    parse_uri,
)
from tests.support.payloads import load_json

LIKE = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "id": "https://mastodon.example/users/bob#likes/42",
    "type": "Like",
    "actor": "https://mastodon.example/users/bob",
    "object": "https://likewise.example/users/alice/statuses/1",
}


def test_mastodon_like() -> None:
    activity = parse_activity(LIKE)

    assert activity.type == "Like"
    assert activity.actor_id == "https://mastodon.example/users/bob"
    assert activity.object_id == "https://likewise.example/users/alice/statuses/1"
    assert activity.object_type is None
    assert activity.to == () and not activity.is_public


def test_mastodon_undo_like_exposes_the_inner_like() -> None:
    activity = parse_activity(load_json("ap_mastodon_undo_like.json"))

    assert activity.type == "Undo"
    assert isinstance(activity.object, EmbeddedObject)
    assert activity.object_type == "Like"
    assert activity.object_id == "https://mastodon.example/users/bob#likes/1234"
    assert activity.object.actor_id == "https://mastodon.example/users/bob"
    assert activity.object.object_id == "https://likewise.example/users/alice/statuses/1"


def test_misskey_reaction_like_keeps_content() -> None:
    activity = parse_activity(load_json("ap_misskey_like.json"))

    assert activity.content == "\N{THUMBS UP SIGN}"
    assert activity.data["_misskey_reaction"] == "\N{THUMBS UP SIGN}"


def test_mastodon_create_note() -> None:
    data = load_json("ap_mastodon_create_note.json")
    activity = parse_activity(data)
    assert activity.is_public
    assert activity.object_type == "Note"
    assert isinstance(activity.object, EmbeddedObject)

    note = parse_note(activity.object.data)

    assert note.attributed_to == "https://mastodon.example/users/bob"
    assert note.content == "<p>A new drawing!</p>"
    assert note.url == "https://mastodon.example/@bob/113000000000000001"
    assert note.in_reply_to is None
    assert note.to == (PUBLIC_COLLECTION,)
    assert note.published is not None and note.published.year == 2026


def test_actor_object_and_compact_public_address() -> None:
    activity = parse_activity(
        {**LIKE, "actor": {"id": "https://a.example/u", "type": "Person"}, "to": "as:Public"}
    )
    assert activity.actor_id == "https://a.example/u"
    assert activity.to == (PUBLIC_COLLECTION,)


def test_mastodon_actor() -> None:
    actor = parse_actor(load_json("ap_mastodon_actor.json"))

    assert actor.id == "https://mastodon.example/users/bob"
    assert actor.type == "Person"
    assert actor.inbox == "https://mastodon.example/users/bob/inbox"
    assert actor.shared_inbox == "https://mastodon.example/inbox"
    assert actor.preferred_username == "bob"
    assert actor.icon_url is not None and actor.icon_url.endswith("abc.png")
    assert actor.public_key is not None
    assert actor.public_key.id == "https://mastodon.example/users/bob#main-key"
    assert actor.public_key.owner == actor.id
    assert actor.public_key.pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert [link.href for link in actor.payment_links] == ["https://likewise.example/@bob"]
    assert actor.payment_links[0].rel == ("payment", "me")
    assert [f.name for f in actor.fields] == ["Website"]
    assert actor.discoverable is True and actor.manually_approves_followers is False


def test_actor_with_fep_521a_multikey_and_single_rel() -> None:
    data = load_json("ap_mastodon_actor.json")
    data["assertionMethod"] = [
        {
            "id": f"{data['id']}#ed25519-key",
            "type": "Multikey",
            "controller": data["id"],
            "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        }
    ]
    data["attachment"] = [{"type": "Link", "rel": "payment", "href": "payto://iban/DE02"}]

    actor = parse_actor(data)

    assert actor.assertion_methods[0].public_key_multibase.startswith("z6Mk")
    assert actor.payment_links[0].href == "payto://iban/DE02"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "Note"}, "not an actor type"),
        ({"inbox": None}, "inbox"),
        ({"inbox": "javascript:alert(1)"}, "inbox"),
        ({"id": "/users/bob"}, "id"),
        ({"endpoints": "https://x.example/inbox"}, "endpoints"),
        ({"publicKey": {"id": "https://x.example/k", "publicKeyPem": 5}}, "publicKeyPem"),
    ],
)
def test_bad_actor(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidActivity, match=message):
        parse_actor({**load_json("ap_mastodon_actor.json"), **change})


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "Note"}
    for _ in range(depth):
        value = {"type": "Note", "object": value}
    return value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([LIKE], "JSON object"),
        ("Like", "JSON object"),
        ({**LIKE, "id": None}, "id"),
        ({**LIKE, "id": "not a uri"}, "id"),
        ({**LIKE, "id": "ftp://x.example/1"}, "id"),
        ({**LIKE, "id": "https://[::1/"}, "id"),
        ({**LIKE, "id": "https://x.example:99999/"}, "id"),
        ({**LIKE, "type": 3}, "type"),
        ({**LIKE, "type": []}, "type"),
        ({k: v for k, v in LIKE.items() if k != "actor"}, "actor"),
        ({**LIKE, "actor": {"type": "Person"}}, "actor"),
        ({**LIKE, "actor": []}, "actor"),
        ({**LIKE, "object": 7}, "object"),
        ({**LIKE, "object": ["https://a.example/1", 7]}, "object"),
        ({**LIKE, "object": {"id": "https://a.example/1"}}, "object.type"),
        ({**LIKE, "to": [1]}, "to"),
        ({**LIKE, "cc": {"x": 1}}, "cc"),
        ({**LIKE, "published": "yesterday"}, "published"),
        ({**LIKE, "content": ["a"]}, "content"),
        ({**LIKE, "object": nested(MAX_DEPTH)}, "deeper"),
        ({**LIKE, "tag": list(range(20_000))}, "more than"),
        ({**LIKE, "x": float("nan")}, "non-finite"),
    ],
)
def test_malformed_activity(data: object, message: str) -> None:
    with pytest.raises(InvalidActivity, match=message):
        parse_activity(data)


def test_very_deep_nesting_does_not_recurse() -> None:
    value: Any = "x"
    for _ in range(100_000):
        value = [value]
    with pytest.raises(InvalidActivity):
        parse_activity({**LIKE, "object": value})


def test_note_requires_author() -> None:
    with pytest.raises(InvalidActivity, match="attributedTo"):
        parse_note({"id": "https://a.example/n/1", "type": "Note"})


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
uris = st.sampled_from(
    ["https://a.example/1", "http://b.example:8080/x?y#z", "as:Public", "https://", "urn:x", ""]
)
keys = st.sampled_from(
    [
        "id",
        "type",
        "actor",
        "object",
        "to",
        "cc",
        "published",
        "content",
        "inbox",
        "attributedTo",
        "publicKey",
        "endpoints",
        "attachment",
        "url",
        "icon",
        "rel",
        "href",
        "assertionMethod",
        "publicKeyPem",
        "owner",
        "sharedInbox",
        "inReplyTo",
        "updated",
    ]
)
json_values = st.recursive(
    json_scalars | uris,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(keys | st.text(max_size=5), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_only_invalid_activity_escapes(data: object) -> None:
    for parse in (parse_activity, parse_actor, parse_note):
        try:
            parse(data)
        except InvalidActivity:
            pass


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=8))
def test_fuzz_objects_only_invalid_activity_escapes(data: dict[str, object]) -> None:
    for parse in (parse_activity, parse_actor, parse_note):
        try:
            parse({**LIKE, **data})
        except InvalidActivity:
            pass


@given(st.text())
def test_unsafe_uri_characters_are_whitespace_and_controls(value: str) -> None:
    expected = any(ch.isspace() or ord(ch) < 32 for ch in value)
    assert bool(UNSAFE_URI_CHARACTER.search(value)) == expected


@given(st.from_regex(PLAIN_HTTP_URI, fullmatch=True))
def test_the_uri_fast_path_accepts_only_what_the_full_check_accepts(value: str) -> None:
    assert not UNSAFE_URI_CHARACTER.search(value)
    assert check_uri_parts(value, "uri") == value


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:65535/a", "https://example.org:1/", "http://h:54839/users/x#main-key"],
)
def test_plain_uris_with_any_valid_port_take_the_fast_path(uri: str) -> None:
    assert PLAIN_HTTP_URI.fullmatch(uri)
    assert parse_uri(uri, "uri") == uri


@pytest.mark.parametrize("uri", ["http://h:65536/a", "http://h:0/a", "http://h:99999/"])
def test_out_of_range_ports_are_refused(uri: str) -> None:
    assert not PLAIN_HTTP_URI.fullmatch(uri)
    with pytest.raises(InvalidActivity):
        parse_uri(uri, "uri")
