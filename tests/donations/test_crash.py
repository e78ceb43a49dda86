"""The close killed with SIGKILL at random points, then rerun, posts exactly what one
uninterrupted run posts; two closes at once, and a close racing clicks, lose nothing."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlmodel import select

from server.db.engine import Database
from server.donations.clicks import remove_click
from server.donations.close import close_period
from server.models import Click, DonorPeriod, Transfer
from server.settings import Settings
from tests.support.databases import DatabaseFactory, pg_execute
from tests.support.ledger import (
    Scenario,
    assert_books_balance,
    donor,
    like,
    seed_bulk,
    transfers,
    web_thing,
)
from tests.support.processes import Processes

SCENARIO = Scenario(donors=1500, creators=400, clicks_per_donor=8, seed=7)


def clone(databases: DatabaseFactory, url: str, directory: Path) -> str:
    if not databases.is_postgres:
        target = directory / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(make_url(url).database or "", target)
        return f"sqlite+aiosqlite:///{target}"
    name = f"lw_{uuid.uuid4().hex[:12]}"
    pg_execute(
        databases.base_url or "", f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}"'
    )
    databases._created.append(name)
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def close_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    env.update(LIKEWISE_DATABASE_URL=url, LIKEWISE_DOMAIN="likewise.test", LIKEWISE_DEV="1")
    return env


def close_args(data: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "server.cli",
        "period",
        "close",
        "--period",
        "2026-10",
        "--batch-size",
        "10",
        "--data",
        str(data),
    ]


def close_command(processes: Processes, url: str, data: Path) -> subprocess.Popen[bytes]:
    return processes.start(
        close_args(data), env=close_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def close_to_the_end(url: str, data: Path) -> None:
    done = subprocess.run(
        close_args(data), env=close_env(url), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr


async def _seeded(databases: DatabaseFactory, settings: Settings) -> str:
    url = databases.migrated()
    db = Database(url)
    try:
        await seed_bulk(db, settings.replace(database_url=url), SCENARIO)
    finally:
        await db.dispose()
    return url


async def _ledger(url: str) -> list[tuple[object, ...]]:
    db = Database(url)
    try:
        await assert_books_balance(db)
        return list(await transfers(db))
    finally:
        await db.dispose()


async def test_a_close_killed_at_random_points_ends_like_an_uninterrupted_one(
    databases: DatabaseFactory, settings: Settings, tmp_path: Path, processes: Processes
) -> None:
    seeded = await _seeded(databases, settings)
    reference = clone(databases, seeded, tmp_path)
    close_to_the_end(reference, tmp_path / "ref")
    expected = await _ledger(reference)
    assert len([row for row in expected if row[4] == "close_share"]) > 5000
    rng = random.Random(2026)
    interrupted = []
    for trial in range(3):
        url = clone(databases, seeded, tmp_path)
        kills = 0
        # Killed twice, each time at a random point of its progress (not of the clock,
        # which a loaded machine stretches)
        for _ in range(2):
            done = await _progress(url)
            if done + 1 >= SCENARIO.donors:
                break
            process = close_command(processes, url, tmp_path / f"t{trial}")
            await _until_done(url, rng.randrange(done + 1, SCENARIO.donors), process)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=60)
            interrupted.append(await _progress(url))
        close_to_the_end(url, tmp_path / f"t{trial}")
        assert await _ledger(url) == expected, f"trial {trial} after {kills} kill(s)"
    # The kills did land in the middle of closes (some donors done, not all)
    assert any(0 < done < SCENARIO.donors for done in interrupted), interrupted


async def _until_done(url: str, donors: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until `donors` donors are settled (or the close has ended)."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if await _progress(url) >= donors:
            return
        await asyncio.sleep(0.02)


async def _progress(url: str) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = await session.exec(select(DonorPeriod).where(DonorPeriod.stage == "done"))
            return len(rows.all())
    finally:
        await db.dispose()


async def test_two_closes_at_once_post_each_share_once(
    databases: DatabaseFactory, settings: Settings, tmp_path: Path
) -> None:
    seeded = await _seeded(databases, settings)
    expected = await _ledger_after_close(clone(databases, seeded, tmp_path), settings, 1)
    assert await _ledger_after_close(seeded, settings, 2) == expected


async def _ledger_after_close(
    url: str, settings: Settings, closers: int
) -> list[tuple[object, ...]]:
    config = settings.replace(database_url=url)
    engines = [Database(url) for _ in range(closers)]
    try:
        await asyncio.gather(
            *(close_period(db, config, "2026-10", batch_size=50) for db in engines)
        )
    finally:
        for db in engines:
            await db.dispose()
    return await _ledger(url)


async def test_a_close_racing_clicks_and_unclicks_loses_none(
    db: Database, settings: Settings
) -> None:
    # Given donors liking and unliking in the running month while it is force-closed
    donors = [await donor(db, settings, f"d{i}", funds=1000) for i in range(6)]
    outcomes: list[tuple[int, str, str]] = []

    async def liker(who: int) -> None:
        engine = Database(settings.database_url)
        try:
            for n in range(12):
                thing = web_thing(f"https://blog.example/{who}/{n}")
                outcome = await like(engine, settings, who, thing)
                outcomes.append((who, thing.uri, outcome))
                if n % 4 == 3:
                    async with engine.transaction() as session:
                        if await remove_click(
                            session, settings, donor_account_id=who, thing_uri=thing.uri
                        ):
                            outcomes.append((who, thing.uri, "removed"))
        finally:
            await engine.dispose()

    closer = Database(settings.database_url)
    try:
        await asyncio.gather(
            *(liker(who) for who in donors),
            close_period(closer, settings, "2026-11", force=True, batch_size=1),
        )
    finally:
        await closer.dispose()
    # Then every recorded, not removed click exists in exactly one period, and each click in
    # the closed period got its share
    async with db.session() as session:
        clicks = (await session.exec(select(Click))).all()
        shares = set((await session.exec(select(Transfer.click_id))).all())
    removed = {(who, uri) for who, uri, outcome in outcomes if outcome == "removed"}
    recorded = [(w, u) for w, u, o in outcomes if o == "recorded" and (w, u) not in removed]
    assert len(clicks) == len(recorded)
    for click in clicks:
        assert (click.period == "2026-11") == (click.id in shares)
    await assert_books_balance(db)
