"""Migration 0010: cached remote notes whose `url` names a page on another host than their
id lose it (their id becomes their address, as for a note that names no url); the rest,
local notes included, keep theirs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from server.db.engine import create_engine
from server.db.migrations import alembic_config, upgrade_async
from tests.support.databases import DatabaseFactory

NOW = datetime(2026, 12, 1, tzinfo=UTC)
EVIL = "http://evil.test/users/mallory"
LOCAL = "http://alpha.test/users/bob"

actor = sa.table(
    "actor",
    *(sa.column(name) for name in ("id", "uri", "is_local", "type", "username", "domain")),
    *(sa.column(name) for name in ("inbox", "outbox", "shared_inbox", "followers_url", "name")),
    *(sa.column(name) for name in ("summary", "url", "icon_url", "key_id", "public_key_pem")),
    *(sa.column(name) for name in ("ed25519_public_multibase", "payment_link")),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
note = sa.table(
    "note",
    *(sa.column(name) for name in ("id", "uri", "url", "author_id", "is_local", "content")),
    *(sa.column(name) for name in ("summary", "visibility", "in_reply_to", "sensitive")),
    sa.column("published_at", sa.DateTime(timezone=True)),
)

# (note id suffix, url, whether the note is local) -> the url expected after the upgrade
CASES: dict[tuple[str, str, bool], str] = {
    ("1", "http://alpha.test/@bob", False): f"{EVIL}/statuses/1",  # a local profile
    ("2", "http://alpha.test/@bob/7", False): f"{EVIL}/statuses/2",  # a local post
    ("3", "https://site.example/page", False): f"{EVIL}/statuses/3",  # any web page
    ("4", "http://evil.test@alpha.test/@bob", False): f"{EVIL}/statuses/4",  # user name
    ("5", "not a url", False): f"{EVIL}/statuses/5",
    ("6", "http://EVIL.test/@mallory/6", False): "http://EVIL.test/@mallory/6",  # own host
    ("7", "https://evil.test/@mallory/7", False): "https://evil.test/@mallory/7",  # http(s)
    ("8", f"{EVIL}/statuses/8", False): f"{EVIL}/statuses/8",  # its id
    ("9", "", False): "",
    ("10", "http://alpha.test/@bob/10", True): "http://alpha.test/@bob/10",  # local note
}
MANY = 5003  # past one batch of the migration


def _actor(row_id: int, uri: str, is_local: bool) -> dict[str, object]:
    values: dict[str, object] = {
        name: ""
        for name in (
            "inbox outbox shared_inbox followers_url name summary url icon_url key_id "
            "public_key_pem ed25519_public_multibase payment_link"
        ).split()
    }
    host = uri.split("/")[2]
    return values | {
        "id": row_id,
        "uri": uri,
        "is_local": is_local,
        "type": "Person",
        "username": uri.rsplit("/", 1)[1],
        "domain": host,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _note(row_id: int, author_id: int, uri: str, url: str, is_local: bool) -> dict[str, object]:
    return {
        "id": row_id,
        "uri": uri,
        "url": url,
        "author_id": author_id,
        "is_local": is_local,
        "content": "",
        "summary": "",
        "visibility": "public",
        "in_reply_to": "",
        "sensitive": False,
        "published_at": NOW,
    }


def _rows() -> list[dict[str, object]]:
    rows = []
    for (suffix, url, is_local), _ in CASES.items():
        author, base = (2, LOCAL) if is_local else (1, EVIL)
        rows.append(_note(int(suffix), author, f"{base}/statuses/{suffix}", url, is_local))
    for n in range(100, 100 + MANY):
        rows.append(_note(n, 1, f"{EVIL}/statuses/{n}", f"http://alpha.test/@bob/{n}", False))
    return rows


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(actor), [_actor(1, EVIL, False), _actor(2, LOCAL, True)]
            )
            await connection.execute(sa.insert(note), _rows())
    finally:
        await engine.dispose()


async def _urls(url: str) -> dict[int, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.select(note.c.id, note.c.url))
            return {int(row_id): str(value) for row_id, value in rows.all()}
    finally:
        await engine.dispose()


async def test_remote_notes_lose_a_url_on_another_host(databases: DatabaseFactory) -> None:
    # Given a database at 0009 (and the federation branch) holding notes cached before the rule
    url = databases.empty()
    for revision in ("0003_federation", "0009"):
        await asyncio.to_thread(command.upgrade, alembic_config(url), revision)
    await _seed(url)
    # When it is upgraded
    await upgrade_async(url)
    # Then each note's url is its own host's, or its id
    urls = await _urls(url)
    for (suffix, _, _), expected in CASES.items():
        assert urls[int(suffix)] == expected, suffix
    many = {row_id: value for row_id, value in urls.items() if row_id >= 100}
    assert many == {n: f"{EVIL}/statuses/{n}" for n in range(100, 100 + MANY)}
    # And upgrading again changes nothing
    await upgrade_async(url)
    assert await _urls(url) == urls
