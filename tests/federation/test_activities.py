"""What each incoming activity does, sent as a Mastodon-shaped, signed POST."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Actor, Note, NoteLike, NoteShare
from tests.support.inbox import deliver, make_activity, make_note, post_note
from tests.support.network import Network
from tests.support.remote import RemoteActor

AS = "https://www.w3.org/ns/activitystreams"


async def test_remote_notes_are_cached_sanitized_updated_and_deleted(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await post_note(alpha, network)  # makes the actor known after its first signed POST
    note = make_note(
        mastodon, '<p>hi <a href="http://x" onclick="evil()">x</a><script>1</script></p>'
    )
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 1, note))
    async with context(alpha).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == note["id"]))).one()
    assert "script" not in cached.content and "onclick" not in cached.content
    await deliver(
        alpha,
        network,
        mastodon,
        make_activity(mastodon, "Update", 2, {**note, "content": "<p>edited</p>"}),
    )
    async with context(alpha).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == note["id"]))).one()
    assert cached.content == "<p>edited</p>"
    tombstone = {"id": note["id"], "type": "Tombstone"}
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Delete", 3, tombstone))
    async with context(alpha).db.session() as session:
        cached = (await session.exec(select(Note).where(Note.uri == note["id"]))).one()
    assert cached.deleted_at is not None


async def test_a_note_claiming_another_author_is_not_stored(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await post_note(alpha, network)
    forged = {**make_note(mastodon, "forged"), "attributedTo": "http://alpha.test/users/carol"}
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 1, forged))
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Note).where(Note.uri == forged["id"]))).first() is None


async def test_announce_undo_by_actor_and_object_and_emoji_reacts(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Announce", 1, status["uri"]))
    like = make_activity(mastodon, "Like", 2, status["uri"])
    await deliver(alpha, network, mastodon, like)
    # An Undo whose inner Like has no id is matched on (actor, object).
    inner = {"type": "Like", "actor": mastodon.uri, "object": status["uri"]}
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Undo", 3, inner))
    react = {**make_activity(mastodon, "EmojiReact", 4, status["uri"]), "content": "🔥"}
    await deliver(alpha, network, mastodon, react)
    async with context(alpha).db.session() as session:
        assert len((await session.exec(select(NoteShare))).all()) == 1
        assert (await session.exec(select(NoteLike))).all() == []
    worker = context(alpha).worker
    worker.context = replace(
        worker.context, settings=worker.context.settings.replace(emoji_reacts=True)
    )
    await deliver(alpha, network, mastodon, {**react, "id": react["id"] + "b"})
    async with context(alpha).db.session() as session:
        assert [like.kind for like in (await session.exec(select(NoteLike))).all()] == [
            "EmojiReact"
        ]


async def test_update_and_delete_of_the_person(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await post_note(alpha, network)
    person = {**mastodon.document(), "name": "Robert"}
    person.pop("@context")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Update", 1, person))
    async with context(alpha).db.session() as session:
        bob = (await session.exec(select(Actor).where(Actor.uri == mastodon.uri))).one()
    assert bob.name == "Robert"
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Delete", 2, mastodon.uri))
    async with context(alpha).db.session() as session:
        bob = (await session.exec(select(Actor).where(Actor.uri == mastodon.uri))).one()
    assert bob.tombstoned_at is not None
