"""Migration 0023: remote actors' names stored with HTML entities (nh3.clean_text) read as
plain text again; local actors' names, and names without entities, stay as they are."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from server.db.engine import create_engine
from server.db.migrations import alembic_config, upgrade_async
from tests.support.databases import DatabaseFactory

NOW = datetime(2026, 12, 1, tzinfo=UTC)
EMPTY = (
    "inbox outbox shared_inbox followers_url summary url icon_url key_id public_key_pem "
    "ed25519_public_multibase payment_link"
).split()
actor = sa.table(
    "actor",
    *(sa.column(name) for name in ("id", "uri", "is_local", "type", "username", "domain")),
    *(sa.column(name) for name in ["name", *EMPTY]),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
# (id, whether local, the stored name) -> the name after the upgrade
CASES = {
    (1, False, "Carla&#32;Zines&#32;&amp;&#32;co"): "Carla Zines & co",
    (2, False, "&lt;b&gt;Dora&lt;&#47;b&gt;"): "Dora",  # markup dropped, as stored now
    (3, False, "Plain name"): "Plain name",
    (4, True, "Bob &amp; friends"): "Bob &amp; friends",  # local: typed so by its owner
    (5, False, ""): "",
}


def _row(row_id: int, is_local: bool, name: str) -> dict[str, object]:
    host = "alpha.test" if is_local else "remote.test"
    return dict.fromkeys(EMPTY, "") | {
        "id": row_id,
        "uri": f"http://{host}/users/u{row_id}",
        "is_local": is_local,
        "type": "Person",
        "username": f"u{row_id}",
        "domain": host,
        "name": name,
        "created_at": NOW,
        "updated_at": NOW,
    }


async def _names(url: str) -> dict[int, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.select(actor.c.id, actor.c.name))
            return {int(row_id): str(name) for row_id, name in rows.all()}
    finally:
        await engine.dispose()


async def test_remote_names_lose_their_entities(databases: DatabaseFactory) -> None:
    # Given a database at 0022 holding actors cached with entity-encoded names
    url = databases.empty()
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0022")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(actor), [_row(*case) for case in CASES])
    finally:
        await engine.dispose()
    # When it is upgraded
    await upgrade_async(url)
    # Then remote names are plain text, local ones as typed
    expected = {row_id: name for (row_id, _, _), name in CASES.items()}
    assert await _names(url) == expected
    # And upgrading again changes nothing
    await upgrade_async(url)
    assert await _names(url) == expected
