"""A bearer token is read with its account and that account's actor in one query
(server.accounts.tokens.resolve_bearer), and reading sessions hold no transaction open on
PostgreSQL (server.db.engine.Database.reading): every client API request does both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from starlette.applications import Starlette

from server.accounts.tokens import resolve_bearer
from server.context import context
from server.models import ApiToken
from server.models.base import utcnow
from server.social.notes import local_actor
from tests.support.accounts import make_account, make_token


@contextmanager
def statements(app: Starlette) -> Iterator[list[str]]:
    """The SQL statements the app's read engine runs inside the block."""
    db = context(app).db
    engine = (db.read_engine or db.engine).sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_token_its_account_and_actor_are_one_query(app: Starlette) -> None:
    # Given alice with a personal token
    alice = await make_account(app, "alice")
    token = await make_token(app, alice, scopes="read write:favourites")
    db = context(app).db
    async with db.reading() as session:
        actor = await local_actor(session, alice.id or 0)
    # When the token is resolved
    with statements(app) as seen:
        async with db.reading() as session:
            bearer = await resolve_bearer(session, token)
    # Then one SELECT read what it grants, whose it is and that account's actor
    assert [s.split()[0] for s in seen if not s.startswith("BEGIN")] == ["SELECT"]
    assert bearer is not None
    assert bearer.grant.account_id == alice.id
    assert bearer.grant.scopes == frozenset({"read", "write:favourites"})
    assert bearer.grant.stale is True  # never used yet
    assert bearer.account is not None and bearer.account.username == "alice"
    assert bearer.actor == (actor.id, actor.uri)


async def test_an_unknown_or_revoked_token_grants_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await make_account(app, "alice")
    token = await make_token(app, alice)
    db = context(app).db
    async with db.transaction() as session:
        stored = (await session.exec(select(ApiToken))).one()
        stored.revoked_at = utcnow()
        session.add(stored)
    async with db.reading() as session:
        assert await resolve_bearer(session, token) is None
        assert await resolve_bearer(session, "not-a-token") is None
    answer = await client.get(
        "/api/v1/timelines/home", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401


async def test_a_used_token_is_marked_used(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await make_account(app, "alice")
    token = await make_token(app, alice)
    answer = await client.get(
        "/api/v1/timelines/home", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    async with context(app).db.reading() as session:
        bearer = await resolve_bearer(session, token)
    assert bearer is not None and bearer.grant.stale is False


async def test_reading_sessions_only_read(app: Starlette) -> None:
    """PostgreSQL: each statement of a reading session is its own transaction (no BEGIN
    and ROLLBACK round trips). SQLite: a reading session refuses to write."""
    db = context(app).db
    async with db.reading() as session:
        if db.is_sqlite:
            with pytest.raises(OperationalError, match="readonly database"):
                await session.exec(text("CREATE TABLE scratch (n INTEGER)"))  # type: ignore[call-overload]
            return
        outside = [await _now(session) for _ in range(2)]
    assert outside[0] < outside[1]  # each statement began its own transaction
    async with db.transaction() as session:
        inside = [await _now(session) for _ in range(2)]
    assert inside[0] == inside[1]


async def _now(session: Any) -> Any:
    """The time the current transaction began, read a millisecond or more later."""
    await session.exec(text("SELECT pg_sleep(0.002)"))
    return (await session.exec(text("SELECT now()"))).scalar_one()
