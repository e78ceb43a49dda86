from __future__ import annotations

from datetime import UTC, datetime

from activitypub.builders import (
    ActorSpec,
    NoteSpec,
    PaymentLinkSpec,
    build_accept,
    build_announce,
    build_application_actor,
    build_collection,
    build_create,
    build_delete,
    build_follow,
    build_like,
    build_note,
    build_ordered_collection,
    build_ordered_collection_page,
    build_person,
    build_reject,
    build_undo,
    build_update,
)
from activitypub.jsonld import ACTIVITYSTREAMS_CONTEXT, CID_CONTEXT, PUBLIC_COLLECTION
from activitypub.keys import RsaKeyPair
from activitypub.vocab import parse_activity, parse_actor, parse_note

ALICE = "https://likewise.example/users/alice"
BOB = "https://mastodon.example/users/bob"
WHEN = datetime(2026, 11, 3, 12, 0, 0, 123456, tzinfo=UTC)


def alice(keys: RsaKeyPair, multikey: str | None = None) -> ActorSpec:
    return ActorSpec(
        id=ALICE,
        username="alice",
        inbox=f"{ALICE}/inbox",
        outbox=f"{ALICE}/outbox",
        followers=f"{ALICE}/followers",
        following=f"{ALICE}/following",
        shared_inbox="https://likewise.example/inbox",
        public_key_pem=keys.public_pem,
        name="Alice",
        summary="<p>Painter</p>",
        url="https://likewise.example/@alice",
        icon_url="https://likewise.example/media/alice.png",
        icon_media_type="image/png",
        payment_links=(PaymentLinkSpec(href="https://likewise.example/@alice/support"),),
        profile_fields=(("Website", "https://alice.example"),),
        ed25519_multibase=multikey,
    )


def test_person_parses_back_with_mastodon_fields(rsa_keys: RsaKeyPair) -> None:
    person = build_person(alice(rsa_keys, "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"))

    actor = parse_actor(person)

    assert person["@context"][:2] == [  # type: ignore[index]
        ACTIVITYSTREAMS_CONTEXT,
        "https://w3id.org/security/v1",
    ]
    assert CID_CONTEXT in person["@context"]  # type: ignore[operator]
    assert actor.type == "Person"
    assert actor.public_key is not None and actor.public_key.id == f"{ALICE}#main-key"
    assert actor.public_key.owner == ALICE and actor.public_key.pem == rsa_keys.public_pem
    assert actor.shared_inbox == "https://likewise.example/inbox"
    assert actor.icon_url == "https://likewise.example/media/alice.png"
    assert actor.payment_links[0].href == "https://likewise.example/@alice/support"
    assert actor.payment_links[0].rel == ("payment",)
    assert actor.fields[0].name == "Website"
    assert actor.assertion_methods[0].id == f"{ALICE}#ed25519-key"
    assert actor.assertion_methods[0].controller == ALICE
    assert actor.discoverable is True and actor.manually_approves_followers is False


def test_person_without_multikey_has_no_assertion_method(rsa_keys: RsaKeyPair) -> None:
    person = build_person(alice(rsa_keys))
    assert "assertionMethod" not in person
    assert CID_CONTEXT not in person["@context"]  # type: ignore[operator]


def test_application_actor(rsa_keys: RsaKeyPair) -> None:
    actor = build_application_actor(alice(rsa_keys))
    assert actor["type"] == "Application"
    assert parse_actor(actor).type == "Application"


def test_note_and_create(rsa_keys: RsaKeyPair) -> None:
    note = build_note(
        NoteSpec(
            id=f"{ALICE}/statuses/1",
            attributed_to=ALICE,
            content="<p>Hello</p>",
            published=WHEN,
            to=(PUBLIC_COLLECTION,),
            cc=(f"{ALICE}/followers",),
        )
    )
    create = build_create(f"{ALICE}/statuses/1/activity", ALICE, note)

    assert note["published"] == "2026-11-03T12:00:00Z"
    assert "@context" not in create["object"]  # type: ignore[operator]
    assert create["to"] == [PUBLIC_COLLECTION] and create["cc"] == [f"{ALICE}/followers"]
    activity = parse_activity(create)
    assert activity.object_type == "Note" and activity.is_public
    assert parse_note(note).attributed_to == ALICE


def test_like_has_mastodon_shape() -> None:
    like = build_like(f"{ALICE}#likes/7", ALICE, f"{BOB}/statuses/9")
    assert like == {
        "@context": ACTIVITYSTREAMS_CONTEXT,
        "id": f"{ALICE}#likes/7",
        "type": "Like",
        "actor": ALICE,
        "object": f"{BOB}/statuses/9",
    }


def test_undo_like_embeds_the_like() -> None:
    like = build_like(f"{ALICE}#likes/7", ALICE, f"{BOB}/statuses/9")
    undo = parse_activity(build_undo(f"{ALICE}#likes/7/undo", ALICE, like))
    assert undo.object_type == "Like" and undo.object_id == f"{ALICE}#likes/7"


def test_follow_accept_reject() -> None:
    follow = build_follow(f"{BOB}#follows/1", BOB, ALICE)
    accept = parse_activity(build_accept(f"{ALICE}#accepts/1", ALICE, follow))
    reject = parse_activity(build_reject(f"{ALICE}#rejects/1", ALICE, follow))
    assert accept.object_type == "Follow" and accept.object_id == f"{BOB}#follows/1"
    assert reject.type == "Reject"


def test_update_delete_announce() -> None:
    update = build_update(f"{ALICE}#updates/1", ALICE, {"id": ALICE, "type": "Person"}, to=[])
    delete = build_delete(
        f"{ALICE}/statuses/1#delete", ALICE, f"{ALICE}/statuses/1", [PUBLIC_COLLECTION]
    )
    announce = build_announce(
        f"{ALICE}/statuses/2/activity", ALICE, f"{BOB}/statuses/9", WHEN, [PUBLIC_COLLECTION]
    )
    assert update["to"] == [] and update["cc"] == []
    assert delete["object"] == {"id": f"{ALICE}/statuses/1", "type": "Tombstone"}
    assert parse_activity(announce).published == WHEN.replace(microsecond=0)


def test_collections() -> None:
    followers = build_ordered_collection(f"{ALICE}/followers", 3, first=f"{ALICE}/followers?p=1")
    outbox = build_ordered_collection(f"{ALICE}/outbox", 1, items=[{"@context": "x", "id": "y"}])
    plain = build_collection(f"{ALICE}/c", 2, items=["https://a.example/1"])
    page = build_ordered_collection_page(
        f"{ALICE}/followers?p=1", f"{ALICE}/followers", [BOB], next_page=f"{ALICE}/followers?p=2"
    )

    assert followers["totalItems"] == 3 and "orderedItems" not in followers
    assert outbox["orderedItems"] == [{"id": "y"}]
    assert plain["type"] == "Collection" and plain["items"] == ["https://a.example/1"]
    assert page["partOf"] == f"{ALICE}/followers" and page["next"] == f"{ALICE}/followers?p=2"
