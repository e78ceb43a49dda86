"""Local users posting through the client API and following each other, for the timeline
tests: a user with a bearer token, a status posted, an accepted local follow."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from server.context import context
from server.models import Account, Follow
from server.models.federation import FollowState
from server.social.notes import local_actor
from tests.support.accounts import make_account, make_token


async def user_with_token(app: Starlette, name: str) -> tuple[Account, dict[str, str]]:
    account = await make_account(app, name)
    return account, {"Authorization": f"Bearer {await make_token(app, account)}"}


async def post_status(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> str:
    answer = await client.post("/api/v1/statuses", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


async def follow_locally(app: Starlette, follower: Account, followee: Account) -> None:
    """An accepted follow between two local accounts, written as the follow flow leaves it."""
    async with context(app).db.transaction() as session:
        me = await local_actor(session, follower.id or 0)
        them = await local_actor(session, followee.id or 0)
        session.add(
            Follow(
                follower_id=me.id or 0,
                followee_id=them.id or 0,
                activity_id=f"{me.uri}#follows/{them.id}",
                state=FollowState.accepted,
            )
        )
