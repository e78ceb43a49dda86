"""Payloads as Mastodon sends them (tests/data), replayed through the inbox."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.models import Follow, Note, NoteLike
from tests.support.accounts import make_account, make_token
from tests.support.inbox import INBOX, send
from tests.support.network import Network
from tests.support.payloads import load_text
from tests.support.remote import RemoteActor


def _payload(name: str) -> dict[str, Any]:
    text = load_text(name)
    text = text.replace("https://mastodon.example", "http://mastodon.test")
    text = text.replace("https://likewise.example/users/alice", "http://alpha.test/users/alice")
    data: dict[str, Any] = json.loads(text)
    return data


async def test_mastodon_shapes_replayed(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    alice = await make_account(alpha, "alice")
    token = await make_token(alpha, alice)
    async with network.client("alpha.test") as http:
        await http.post(
            "/api/v1/statuses",
            json={"status": "first"},
            headers={"Authorization": f"Bearer {token}"},
        )
    for name in (
        "mastodon_follow.json",
        "ap_mastodon_create_note.json",
        "mastodon_like.json",
    ):
        response = await send(network, *mastodon.signed(INBOX, _payload(name)))
        assert response.status_code == 202, (name, response.text)
    await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).one().state == "accepted"
        assert len((await session.exec(select(NoteLike))).all()) == 1
        notes = (await session.exec(select(Note).where(col(Note.is_local).is_(False)))).all()
    assert notes[0].content == "<p>A new drawing!</p>"
    undo = send(network, *mastodon.signed(INBOX, _payload("ap_mastodon_undo_like.json")))
    assert (await undo).status_code == 202
    await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(NoteLike))).all() == []
