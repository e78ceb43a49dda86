"""A favourite through the client API is a like, a click and (of a remote note) a Like
delivered, in a few statements: it goes through the bulk click path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.db import clicks_sql, round_trip
from server.donations.budget import update_donor_settings
from server.federation.delivery import DELIVERY_JOB
from server.models import Actor, Click, Job, Note, NoteLike
from tests.support.accounts import bearer, make_account, make_token


@contextmanager
def statements(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement the app sends inside the block: through SQLAlchemy (the writing
    engine, the threaded readers and the bounded, inline ones of server/db/inline_sqlite.py)
    and straight to the driver (server/db/round_trip.py)."""
    db = context(app).db
    every = (db.engine, db.read_engine, db.bounded_engine)
    engines = {id(e): e.sync_engine for e in every if e is not None}
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split())[:100])

    original = round_trip.run

    async def counted(session: Any, sql: str, built: Any) -> Any:
        seen.append(" ".join(sql.split())[:100])
        return await original(session, sql, built)

    monkeypatch.setattr(clicks_sql, "run", counted)
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", record)
        monkeypatch.setattr(clicks_sql, "run", original)


async def _remote_notes(app: Starlette, count: int) -> list[str]:
    async with context(app).db.transaction() as session:
        host = "far.test"
        author = Actor(
            uri=f"https://{host}/users/dan",
            username="dan",
            domain=host,
            inbox=f"https://{host}/users/dan/inbox",
        )
        session.add(author)
        await session.flush()
        notes = [
            Note(uri=f"https://{host}/notes/{n}", author_id=author.id or 0) for n in range(count)
        ]
        session.add_all(notes)
        await session.flush()
        return [str(note.id) for note in notes]


def _sent(seen: list[str]) -> list[str]:
    """The statements, without the BEGINs (SQLite's driver sends them as statements)."""
    return [one for one in seen if not one.startswith("BEGIN")]


async def _state(app: Starlette) -> tuple[int, int, int]:
    """(likes, clicks, delivery jobs) in the database."""
    async with context(app).db.reading() as session:
        likes = (await session.exec(select(func.count()).select_from(NoteLike))).one()
        clicks = (await session.exec(select(func.count()).select_from(Click))).one()
        jobs = await session.exec(
            select(func.count()).select_from(Job).where(Job.kind == DELIVERY_JOB)
        )
        return int(likes), int(clicks), int(jobs.one())


async def test_a_favourite_is_a_like_a_click_and_a_like_delivered_in_twelve_statements(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ann, who liked one of dan's remote notes (his identity and the month are known)
    ann = await bearer(app, "ann")
    first, second = await _remote_notes(app, 2)
    liked = await client.post(f"/api/v1/statuses/{first}/favourite", headers=ann)
    assert liked.status_code == 200, liked.text
    # When she favourites another of his notes
    with statements(app, monkeypatch) as seen:
        answer = await client.post(f"/api/v1/statuses/{second}/favourite", headers=ann)
    # Then it is liked, clicked and a Like is queued for dan's inbox
    assert answer.status_code == 200, answer.text
    assert answer.json()["favourited"] is True and answer.json()["favourites_count"] == 1
    assert await _state(app) == (2, 2, 2)
    # in 12 statements: the token; the note, the parties, the like, the delivery, the
    # donor, the identity, the thing, the period, the click; the answer's two reads
    # (it took 19 through `record_click`, 16 of them in the write transaction)
    sent = _sent(seen)
    assert len(sent) == 12, sent
    writes = [one.split(" (")[0] for one in sent if one.startswith("INSERT")]
    assert writes == [
        "INSERT INTO note_like",
        "INSERT INTO job",
        "INSERT INTO thing",
        "INSERT INTO click",
    ]


async def test_a_double_submitted_favourite_is_one_like_one_click_one_delivery(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await bearer(app, "ann")
    (note,) = await _remote_notes(app, 1)
    path = f"/api/v1/statuses/{note}/favourite"
    answers = await asyncio.gather(*(client.post(path, headers=ann) for _ in range(3)))
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all(answer.json()["favourited"] for answer in answers)
    assert await _state(app) == (1, 1, 1)
    again = await client.post(path, headers=ann)
    assert again.json()["favourites_count"] == 1
    assert await _state(app) == (1, 1, 1)


async def test_a_favourite_of_ones_own_status_or_while_paused_is_no_click(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given ann's own status, and erin whose budget is paused
    ann = await bearer(app, "ann")
    own = (await client.post("/api/v1/statuses", json={"status": "mine"}, headers=ann)).json()
    erin_account = await make_account(app, "erin")
    erin = {"Authorization": f"Bearer {await make_token(app, erin_account)}"}
    async with context(app).db.transaction() as session:
        settings = context(app).settings
        await update_donor_settings(session, settings, erin_account.id or 0, paused=True)
    (remote,) = await _remote_notes(app, 1)
    # When ann favourites her own status, and erin a remote one
    mine = await client.post(f"/api/v1/statuses/{own['id']}/favourite", headers=ann)
    paused = await client.post(f"/api/v1/statuses/{remote}/favourite", headers=erin)
    # Then both are liked (the remote one delivered), and neither is a click
    assert mine.json()["favourited"] is True and paused.json()["favourited"] is True
    assert await _state(app) == (2, 0, 1)
    # And the paused donor's answer says her like gives nothing (own work has no share)
    assert paused.json()["likewise"]["projected_share"]["amount"] == 0
    assert mine.json()["likewise"]["projected_share"] is None


async def test_unfavouriting_and_favouriting_again_this_month_is_still_one_click(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await bearer(app, "ann")
    (note,) = await _remote_notes(app, 1)
    for action in ("favourite", "unfavourite", "favourite"):
        answer = await client.post(f"/api/v1/statuses/{note}/{action}", headers=ann)
        assert answer.status_code == 200, answer.text
    # A Like, its Undo and the second Like are delivered; the month has one click
    assert await _state(app) == (1, 1, 3)
