"""An activity's `object` as an array, and who wrote a note an activity carries inline."""

from __future__ import annotations

from collections.abc import Mapping

from activitypub.vocab import Activity, EmbeddedObject, note_author, parse_activity

BOB = "https://mastodon.example/users/bob"
DELETE = {
    "id": f"{BOB}#deletes/1",
    "type": "Delete",
    "actor": BOB,
    "object": [f"{BOB}/statuses/1", {"id": f"{BOB}/statuses/2", "type": "Tombstone"}],
}


def test_an_array_of_objects_gives_each_and_no_single_object() -> None:
    activity = parse_activity(DELETE)
    assert activity.object is None and activity.object_id is None
    assert [getattr(item, "id", item) for item in activity.objects] == [
        f"{BOB}/statuses/1",
        f"{BOB}/statuses/2",
    ]
    second = activity.about(activity.objects[1])
    assert second.object_id == f"{BOB}/statuses/2" and second.object_type == "Tombstone"
    assert second.id == activity.id and second.objects == (activity.objects[1],)


def test_one_object_or_an_array_of_one_is_the_object() -> None:
    for given in (f"{BOB}/statuses/1", [f"{BOB}/statuses/1"]):
        activity = parse_activity({**DELETE, "object": given})
        assert activity.object_id == f"{BOB}/statuses/1"
        assert activity.objects == (f"{BOB}/statuses/1",)
    empty = parse_activity({**DELETE, "object": []})
    assert empty.object is None and empty.objects == ()


def _create(note: Mapping[str, object]) -> tuple[Activity, EmbeddedObject]:
    activity = parse_activity({**DELETE, "type": "Create", "object": note})
    assert isinstance(activity.object, EmbeddedObject)
    return activity, activity.object


def test_a_note_without_attributed_to_is_its_senders_on_the_senders_origin() -> None:
    activity, note = _create({"id": f"{BOB}/statuses/3", "type": "Note"})
    assert note_author(activity, note) == BOB
    same = {"id": "HTTPS://Mastodon.Example:443/notes/3", "type": "Note"}
    activity, note = _create(same)
    assert note_author(activity, note) == BOB


def test_a_note_without_attributed_to_elsewhere_has_no_author() -> None:
    for elsewhere in (
        "https://other.example/notes/3",
        "http://mastodon.example/notes/3",
        "https://mastodon.example:8443/notes/3",
        "https://sub.mastodon.example/notes/3",
        "https://bob@mastodon.example/notes/3",
    ):
        activity, note = _create({"id": elsewhere, "type": "Note"})
        assert note_author(activity, note) is None, elsewhere
    activity, note = _create({"type": "Note", "content": "no id"})
    assert note_author(activity, note) is None


def test_attributed_to_names_the_author() -> None:
    named = {"id": "https://other.example/notes/3", "type": "Note", "attributedTo": [BOB]}
    activity, note = _create(named)
    assert note_author(activity, note) == BOB
