"""What other servers send that the ActivityPub test suites found refused or lost: a repeated
delivery, an `object` array, a Create whose Note names no author."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.models import Actor, InboxItem, Note, NoteLike
from tests.support.inbox import INBOX, deliver, make_activity, make_note, post_note, send
from tests.support.network import Network
from tests.support.remote import RemoteActor


async def _items(app: Starlette) -> list[tuple[str, str]]:
    async with context(app).db.session() as session:
        rows = await session.exec(
            select(InboxItem.activity_id, InboxItem.state).order_by(col(InboxItem.id))
        )
        return list(rows.all())


async def _likes(app: Starlette) -> int:
    async with context(app).db.session() as session:
        return int((await session.exec(select(func.count()).select_from(NoteLike))).one())


async def _notes_of(app: Starlette, actor: str) -> list[Note]:
    async with context(app).db.session() as session:
        query = select(Note).join(Actor, col(Actor.id) == col(Note.author_id))
        return list((await session.exec(query.where(Actor.uri == actor))).all())


async def test_a_repeated_delivery_is_answered_202_and_processed_once(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    like = mastodon.like(status["uri"])
    # When the same Like arrives again (the sender timed out and retried), before and after
    # the worker ran
    answers = [(await send(network, *mastodon.signed(INBOX, like))).status_code]
    answers.append((await send(network, *mastodon.signed(INBOX, like))).status_code)
    await context(alpha).worker.drain()
    answers.append((await send(network, *mastodon.signed(INBOX, like))).status_code)
    await context(alpha).worker.drain()
    # Then each delivery gets 202, and the Like is stored and counted once
    assert answers == [202, 202, 202]
    assert await _items(alpha) == [(like["id"], "done")]
    assert await _likes(alpha) == 1


async def test_a_delete_of_two_notes_deletes_each(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await post_note(alpha, network)
    first = make_note(mastodon, "one")
    second = {**first, "id": first["id"].replace("/1", "/2"), "content": "two"}
    for n, note in enumerate((first, second), start=1):
        await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", n, note))
    # When one Delete names both (one as a Tombstone), and a note bob never sent
    unknown = f"http://{mastodon.server.host}/users/bob/statuses/404"
    objects = [first["id"], {"id": second["id"], "type": "Tombstone"}, unknown]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Delete", 3, objects))
    # Then both are deleted, and the Delete is done
    notes = await _notes_of(alpha, mastodon.uri)
    assert sorted((n.uri, n.deleted_at is not None) for n in notes) == [
        (first["id"], True),
        (second["id"], True),
    ]
    assert (await _items(alpha))[-1] == (f"{mastodon.uri}#Delete/3", "done")


async def test_an_undo_of_two_likes_undoes_each(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    one = await post_note(alpha, network)
    two = await post_note(alpha, network, "dora")
    likes = [mastodon.like(one["uri"], 1), mastodon.like(two["uri"], 2)]
    for like in likes:
        await deliver(alpha, network, mastodon, like)
    assert await _likes(alpha) == 2
    inner = [{k: v for k, v in like.items() if k != "@context"} for like in likes]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Undo", 3, inner))
    assert await _likes(alpha) == 0
    assert (await _items(alpha))[-1] == (f"{mastodon.uri}#Undo/3", "done")


async def test_a_like_of_several_objects_is_accepted_and_ignored(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    one = await post_note(alpha, network)
    two = await post_note(alpha, network, "dora")
    # A Like's id names one like: of two notes, neither is counted
    several = {**mastodon.like(one["uri"], 1), "object": [one["uri"], two["uri"]]}
    await deliver(alpha, network, mastodon, several)
    # An array of one is that object
    single = {**mastodon.like(one["uri"], 2), "object": [one["uri"]]}
    await deliver(alpha, network, mastodon, single)
    assert [state for _, state in await _items(alpha)] == ["ignored", "done"]
    assert await _likes(alpha) == 1


def _unsigned_note(mastodon: RemoteActor, note_id: str) -> dict[str, Any]:
    note = {**make_note(mastodon, "<p>who wrote me?</p>"), "id": note_id}
    note.pop("attributedTo")
    return note


async def test_a_note_without_author_on_the_senders_origin_is_the_senders(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await post_note(alpha, network)
    note = _unsigned_note(mastodon, f"http://{mastodon.server.host}/users/bob/statuses/7")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 1, note))
    stored = await _notes_of(alpha, mastodon.uri)
    assert [(n.uri, n.content) for n in stored] == [(note["id"], "<p>who wrote me?</p>")]
    assert await _items(alpha) == [(f"{mastodon.uri}#Create/1", "done")]
    # An Update without author is read the same way
    edited = {**note, "content": "<p>edited</p>"}
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Update", 2, edited))
    assert [n.content for n in await _notes_of(alpha, mastodon.uri)] == ["<p>edited</p>"]


async def test_a_note_without_author_from_elsewhere_is_refused_at_the_door(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    await post_note(alpha, network)
    for n, note_id in enumerate(
        ("http://elsewhere.test/notes/7", f"https://{mastodon.server.host}/users/bob/statuses/7"), 1
    ):
        note = _unsigned_note(mastodon, note_id)
        create = make_activity(mastodon, "Create", n, note)
        response = await send(network, *mastodon.signed(INBOX, create))
        assert response.status_code == 400, response.text
        assert "attributedTo" in response.json()["error"]
    # Nor when it comes among others in an array
    fine = make_note(mastodon, "fine")
    both = make_activity(mastodon, "Create", 3, [fine, _unsigned_note(mastodon, "http://x.test/n")])
    assert (await send(network, *mastodon.signed(INBOX, both))).status_code == 400
    assert await _items(alpha) == []
