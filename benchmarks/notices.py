"""Time of the query behind the monthly notices to unclaimed creators (`creators_to_tell`),
which the worker runs after each housekeeping slot, over a large escrow: 1,000,000 held
lines for 50,000 fediverse creators on 500 instances (none of them a peer), on SQLite and,
with --postgres URL, on PostgreSQL.

On PostgreSQL the statistics stay those of the empty tables (analyzed before seeding,
autovacuum off for the bench database), as just after a close that wrote the lines and
before autovacuum has analyzed them.

Baseline, measured in the same run: grouping the same rows in plain Python, in memory.
The query runs twice: before any notice (every creator is due) and once every creator has
had this month's notice (the usual hourly case: nothing is due).

    .venv/bin/python benchmarks/notices.py [--lines 1000000]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from close import drop_database, fresh_database, insert_in_batches  # type: ignore[import-not-found,unused-ignore]
from sqlalchemy import text
from sqlmodel import select

from server.db.engine import Database
from server.db.migrations import upgrade
from server.donations.periods import period_of
from server.escrow.notices import creators_to_tell
from server.models import EscrowLine, Identity
from server.models.base import utcnow
from server.models.notices import CreatorNotice
from server.settings import Settings

CREATORS = 50_000
INSTANCES = 500
DONORS = 100_000

Row = tuple[str, int, int, int]  # creator_uri, identity_id, donor_id, amount


def _creator(c: int) -> str:
    return f"https://social{c % INSTANCES}.example/users/c{c}"


def lines(count: int, rng: random.Random) -> list[Row]:
    return [
        (_creator(c), c + 1, rng.randrange(DONORS), rng.randrange(1, 200))
        for c in (rng.randrange(CREATORS) for _ in range(count))
    ]


STALE_STATISTICS = (
    "ANALYZE",
    *(
        f"ALTER TABLE {table} SET (autovacuum_enabled = false)"
        for table in ("escrow_line", "identity", "creator_notice", "notice_opt_out", "peer")
    ),
)


async def freeze_statistics(db: Database) -> None:
    async with db.transaction() as session:
        connection = await session.connection()
        for statement in STALE_STATISTICS:
            await connection.execute(text(statement))


async def seed(db: Database, rows: list[Row]) -> None:
    now = utcnow()
    identities = [
        {
            "id": c + 1,
            "network": "fediverse",
            "external_id": _creator(c),
            "handle": "",
            "profile_url": "",
            "claimed_by_actor_uri": "",
            "created_at": now,
        }
        for c in range(CREATORS)
    ]
    await insert_in_batches(db, Identity.__table__, identities)  # type: ignore[attr-defined]
    period = period_of(now - timedelta(days=31))
    escrow = [
        {
            "period": period,
            "donor_id": donor,
            "click_id": i + 1,
            "identity_id": identity,
            "ledger_account_id": 1,
            "peer_domain": uri.split("/")[2],
            "creator_uri": uri,
            "amount": amount,
            "state": "held",
            "created_at": now,
        }
        for i, (uri, identity, donor, amount) in enumerate(rows)
    ]
    await insert_in_batches(db, EscrowLine.__table__, escrow)  # type: ignore[attr-defined]


def baseline(rows: list[Row]) -> float:
    started = time.perf_counter()
    amounts: dict[str, int] = defaultdict(int)
    donors: dict[str, set[int]] = defaultdict(set)
    for uri, _, donor, amount in rows:
        amounts[uri] += amount
        donors[uri].add(donor)
    assert len(amounts) == len(donors)
    return time.perf_counter() - started


async def _tell_all(db: Database, month: str) -> None:
    """Every waiting creator has had this month's notice."""
    async with db.session() as session:
        connection = await session.connection()
        found = await connection.execute(select(Identity.id, Identity.external_id))
        identities = found.all()
    rows = [
        {
            "creator_uri": uri,
            "month": month,
            "identity_id": identity,
            "token": f"t{identity}",
            "state": "sent",
            "amount": 0,
            "supporters": 0,
            "created_at": utcnow(),
        }
        for identity, uri in identities
    ]
    await insert_in_batches(db, CreatorNotice.__table__, rows)  # type: ignore[attr-defined]


async def _timed(db: Database, settings: Settings, month: str) -> tuple[float, int]:
    started = time.perf_counter()
    async with db.session() as session:
        found = await creators_to_tell(session, settings, month)
    return time.perf_counter() - started, len(found)


def measure(kind: str, rows: list[Row], postgres: str | None, workdir: Path, plain: float) -> None:
    url = fresh_database(kind, postgres, workdir)
    try:
        upgrade(url)
        settings = Settings(data_dir=workdir, database_url=url, domain="bench.test")
        month = period_of(utcnow())

        async def run() -> tuple[float, int, float, int]:
            db = Database(url)
            try:
                if kind == "postgresql":
                    await freeze_statistics(db)
                await seed(db, rows)
                due, creators = await _timed(db, settings, month)
                await _tell_all(db, month)
                quiet, none = await _timed(db, settings, month)
            finally:
                await db.dispose()
            return due, creators, quiet, none

        due, creators, quiet, none = asyncio.run(run())
    finally:
        if kind == "postgresql":
            drop_database(postgres or "", url)
    print(
        f"{kind:<10} {len(rows):>9,} lines  all due: {due:6.2f} s ({creators:,} creators)"
        f"  none due: {quiet:6.2f} s ({none} creators)  all due / baseline: {due / plain:.1f}x"
    )
    assert creators == len({row[0] for row in rows}) and none == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="server URL; omit to skip PostgreSQL")
    args = parser.parse_args()
    rows = lines(args.lines, random.Random(7))
    plain = baseline(rows)
    print(f"baseline   {len(rows):>9,} lines  plain-Python grouping: {plain:.2f} s")
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            measure(kind, rows, args.postgres, Path(tmp), plain)


if __name__ == "__main__":
    main()
