"""Hostile JSON to the inboxes: never a 500, nothing stored that is not an activity."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import select

from server.app import create_app
from server.context import context
from server.models import InboxItem
from tests.support.accounts import make_account
from tests.support.databases import DatabaseFactory
from tests.support.lifespan import app_lifespan
from tests.support.network import Network, join, settings_for
from tests.support.remote import RemoteServer, mastodon_bob

T = TypeVar("T")
INBOXES = ("http://alpha.test/inbox", "http://alpha.test/users/carol/inbox")
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
activity_keys = st.sampled_from(["id", "type", "actor", "object", "to", "cc", "@context"])
hostile = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(activity_keys, json_values, max_size=7).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    st.just(b"[" * 5000 + b"]" * 5000),
    st.just(b'{"id": "' + b"\xff\xfe" + b'"}'),
    st.just('{"id": "x", "type": "Like"}'.encode("utf-16")),
)


def test_hostile_bodies_never_cause_a_500(tmp_path: Path, databases: DatabaseFactory) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    network = Network()
    mastodon = mastodon_bob(RemoteServer())
    network.apps[mastodon.server.host] = mastodon.server.app()
    app = create_app(settings_for(tmp_path, "alpha.test", databases))
    started, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        async with app_lifespan(app):
            join(app, network)
            network.apps["alpha.test"] = app
            await make_account(app, "carol")  # the personal inbox belongs to a real user
            started.set()
            await stop.wait()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    async def post(body: bytes, url: str, sign: bool) -> int:
        headers: dict[str, Any] = {"Content-Type": "application/activity+json"}
        if sign:
            body, headers = mastodon.signed(url, body)
        async with network.client("alpha.test") as http:
            return (await http.post(url, content=body, headers=headers)).status_code

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=hostile, url=st.sampled_from(INBOXES), sign=st.booleans())
    def check(body: bytes, url: str, sign: bool) -> None:
        status = run(post(body, url, sign))
        assert status in (202, 400, 401, 413), status

    async def stored() -> int:
        await context(app).worker.drain()
        async with context(app).db.session() as session:
            query = select(func.count()).select_from(InboxItem)
            return int((await session.exec(query)).one())

    async def finish() -> None:
        stop.set()

    serving = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        assert started.wait(timeout=30)
        check()
        assert run(stored()) == 0
    finally:
        run(finish())
        serving.result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
