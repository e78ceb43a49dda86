"""Talking to an in-process instance's inbox from a remote server: a post on the instance to
like, activities and notes a remote actor sends, signed delivery and the worker's drain."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from server.context import context
from tests.support.accounts import make_account, make_token
from tests.support.network import Network
from tests.support.remote import AS, PUBLIC, RemoteActor

INBOX = "http://alpha.test/inbox"


async def post_note(app: Starlette, network: Network, username: str = "carol") -> dict[str, Any]:
    """A public post by a new local account `username` (the Mastodon API's answer)."""
    account = await make_account(app, username)
    token = await make_token(app, account)
    async with network.client(context(app).settings.domain) as http:
        response = await http.post(
            "/api/v1/statuses",
            data={"status": "hello fediverse"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


async def send(
    network: Network, body: bytes, headers: dict[str, str], url: str = INBOX
) -> httpx.Response:
    """POST a signed body to alpha.test's inbox (or `url`)."""
    async with network.client("alpha.test") as http:
        return await http.post(url, content=body, headers=headers)


def make_activity(actor: RemoteActor, kind: str, n: int, obj: Any) -> dict[str, Any]:
    return {
        "@context": AS,
        "id": f"{actor.uri}#{kind}/{n}",
        "type": kind,
        "actor": actor.uri,
        "object": obj,
    }


def make_note(actor: RemoteActor, content: str) -> dict[str, Any]:
    return {
        "id": f"http://{actor.server.host}/users/bob/statuses/1",
        "type": "Note",
        "attributedTo": actor.uri,
        "content": content,
        "published": "2026-11-24T10:00:00Z",
        "to": [PUBLIC],
        "cc": [],
    }


async def deliver(
    app: Starlette, network: Network, actor: RemoteActor, activity: dict[str, Any]
) -> None:
    """`activity`, signed by `actor`, accepted at the shared inbox and processed."""
    response = await send(network, *actor.signed(INBOX, activity))
    assert response.status_code == 202, response.text
    await context(app).worker.drain()


async def drain(*apps: Starlette) -> None:
    """Run the apps' queued jobs, a few rounds (a delivery makes work on the other side)."""
    for _ in range(3):
        for app in apps:
            await context(app).worker.drain()
