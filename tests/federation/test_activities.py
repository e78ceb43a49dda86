"""What each incoming activity does, sent as a Mastodon-shaped, signed POST."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Actor, Note, NoteLike, NoteShare
from tests.support.network import FakeMastodon, Network
from tests.federation.test_inbox import INBOX, _post_note, _send

AS = "https://www.w3.org/ns/activitystreams"


def _activity(mastodon: FakeMastodon, kind: str, n: int, obj: Any) -> dict[str, Any]:
    return {
        "@context": AS,
        "id": f"{mastodon.actor}#{kind}/{n}",
        "type": kind,
        "actor": mastodon.actor,
        "object": obj,
    }


def _note(mastodon: FakeMastodon, content: str) -> dict[str, Any]:
    return {
        "id": f"http://{mastodon.host}/users/bob/statuses/1",
        "type": "Note",
        "attributedTo": mastodon.actor,
        "content": content,
        "published": "2026-11-24T10:00:00Z",
        "to": [f"{AS}#Public"],
        "cc": [],
    }


async def _deliver(
    app: Starlette, network: Network, mastodon: FakeMastodon, a: dict[str, Any]
) -> None:
    response = await _send(network, *mastodon.signed(INBOX, a))
    assert response.status_code == 202, response.text
    await context(app).worker.drain()


async def test_remote_notes_are_cached_sanitized_updated_and_deleted(
    alpha: Starlette, network: Network, mastodon: FakeMastodon
) -> None:
    await _post_note(alpha, network)  # makes the actor known after its first signed POST
    note = _note(mastodon, '<p>hi <a href="http://x" onclick="evil()">x</a><script>1</script></p>')
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Create", 1, note))
    async with context(alpha).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == note["id"]))).one()
    assert "script" not in cached.content and "onclick" not in cached.content
    await _deliver(
        alpha,
        network,
        mastodon,
        _activity(mastodon, "Update", 2, {**note, "content": "<p>edited</p>"}),
    )
    async with context(alpha).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == note["id"]))).one()
    assert cached.content == "<p>edited</p>"
    tombstone = {"id": note["id"], "type": "Tombstone"}
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Delete", 3, tombstone))
    async with context(alpha).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == note["id"]))).one()
    assert cached.deleted_at is not None


async def test_a_note_claiming_another_author_is_not_stored(
    alpha: Starlette, network: Network, mastodon: FakeMastodon
) -> None:
    await _post_note(alpha, network)
    forged = {**_note(mastodon, "forged"), "attributedTo": "http://alpha.test/users/carol"}
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Create", 1, forged))
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Note).where(Note.uri == forged["id"]))).first() is None


async def test_announce_undo_by_actor_and_object_and_emoji_reacts(
    alpha: Starlette, network: Network, mastodon: FakeMastodon
) -> None:
    status = await _post_note(alpha, network)
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Announce", 1, status["uri"]))
    like = _activity(mastodon, "Like", 2, status["uri"])
    await _deliver(alpha, network, mastodon, like)
    # An Undo whose inner Like has no id is matched on (actor, object).
    inner = {"type": "Like", "actor": mastodon.actor, "object": status["uri"]}
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Undo", 3, inner))
    react = {**_activity(mastodon, "EmojiReact", 4, status["uri"]), "content": "🔥"}
    await _deliver(alpha, network, mastodon, react)
    async with context(alpha).db.session() as session:
        assert len((await session.exec(select(NoteShare))).all()) == 1
        assert (await session.exec(select(NoteLike))).all() == []
    worker = context(alpha).worker
    worker.context = replace(
        worker.context, settings=worker.context.settings.replace(emoji_reacts=True)
    )
    await _deliver(alpha, network, mastodon, {**react, "id": react["id"] + "b"})
    async with context(alpha).db.session() as session:
        assert [like.kind for like in (await session.exec(select(NoteLike))).all()] == [
            "EmojiReact"
        ]


async def test_update_and_delete_of_the_person(
    alpha: Starlette, network: Network, mastodon: FakeMastodon
) -> None:
    await _post_note(alpha, network)
    person = {**mastodon.document(), "name": "Robert"}
    person.pop("@context")
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Update", 1, person))
    async with context(alpha).db.session() as session:
        bob = (await session.exec(select(Actor).where(Actor.uri == mastodon.actor))).one()
    assert bob.name == "Robert"
    await _deliver(alpha, network, mastodon, _activity(mastodon, "Delete", 2, mastodon.actor))
    async with context(alpha).db.session() as session:
        bob = (await session.exec(select(Actor).where(Actor.uri == mastodon.actor))).one()
    assert bob.tombstoned_at is not None
