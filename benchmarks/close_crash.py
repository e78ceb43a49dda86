"""The month close killed with SIGKILL at random points, then run again to the end: each
trial's ledger must be identical to that of one uninterrupted close of the same month.

A month of 5,000 donors and 50,000 clicks is seeded once (as benchmarks/close.py seeds
it, over 50,000 creators). The reference is one `likewise period close` run to the end on
a copy. Each trial takes a fresh copy, starts the close, kills it with SIGKILL after a
random delay within the reference's run time (once or twice), runs it again to the end,
and compares every transfer (by idempotency key), escrow line and donor record with the
reference; `likewise ledger check` must pass too. Batches of 200 donors give the close
25 commit points to be killed between or inside.

    .venv/bin/python benchmarks/close_crash.py [--trials 20] [--donors 5000]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from close import PERIOD, drop_database, environment, fresh_database, seed  # type: ignore[import-not-found,unused-ignore]
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.db.engine import Database
from server.db.migrations import upgrade
from server.settings import Settings

BATCH_DONORS = 200
SNAPSHOT = (
    "SELECT t.idempotency_key, d.key, c.key, t.amount, t.kind, t.period, t.click_id "
    "FROM transfer t JOIN ledger_account d ON d.id = t.debit_id "
    "JOIN ledger_account c ON c.id = t.credit_id ORDER BY t.idempotency_key",
    "SELECT e.period, e.donor_id, e.click_id, e.identity_id, a.key, e.amount, e.state "
    "FROM escrow_line e JOIN ledger_account a ON a.id = e.ledger_account_id "
    "ORDER BY e.click_id",
    "SELECT period, donor_id, stage, budget, fee, clicks FROM donor_period ORDER BY donor_id",
)


def cli(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "server.cli", *args, "--data", str(data)]


def close_args(data: Path) -> list[str]:
    args = ("period", "close", "--period", PERIOD, "--batch-size", str(BATCH_DONORS))
    return cli(data, *args)


def close_to_the_end(url: str, data: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        close_args(data), env=environment(url), capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise SystemExit(f"close failed:\n{done.stderr}")
    return time.perf_counter() - started


def ledger_check(url: str, data: Path) -> bool:
    done = subprocess.run(
        cli(data, "ledger", "check"), env=environment(url), capture_output=True, timeout=900
    )
    return done.returncode == 0


async def snapshot(url: str) -> tuple[list[tuple[object, ...]], ...]:
    db = Database(url)
    try:
        async with db.session() as session:
            connection = await session.connection()
            tables = []
            for sql in SNAPSHOT:
                tables.append([tuple(row) for row in (await connection.execute(text(sql))).all()])
            return tuple(tables)
    finally:
        await db.dispose()


class Copies:
    """Fresh copies of the seeded database: file copies on SQLite, templates on PostgreSQL."""

    def __init__(self, seeded: str, postgres: str | None, workdir: Path) -> None:
        self.seeded, self.postgres, self.workdir = seeded, postgres, workdir

    def new(self) -> str:
        if self.postgres is None:
            target = self.workdir / f"{uuid.uuid4().hex}.db"
            shutil.copyfile(make_url(self.seeded).database or "", target)
            return f"sqlite+aiosqlite:///{target}"
        template = make_url(self.seeded).database or ""
        return str(fresh_database("postgresql", self.postgres, self.workdir, template))

    def drop(self, url: str) -> None:
        if self.postgres is not None:
            drop_database(self.postgres, url)


async def kill_when(url: str, process: subprocess.Popen[bytes], target: int, extra: float) -> int:
    """SIGKILL the close once `target` donors are settled, `extra` seconds later (so the
    kill lands anywhere in the next batch); returns the donors settled after the kill."""
    db = Database(url)
    sql = text("SELECT count(*) FROM donor_period WHERE stage = 'done'")
    try:
        while process.poll() is None:
            async with db.session() as session:
                done = int((await (await session.connection()).execute(sql)).scalar_one())
            if done >= target:
                await asyncio.sleep(extra)
                break
            await asyncio.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        async with db.session() as session:
            return int((await (await session.connection()).execute(sql)).scalar_one())
    finally:
        await db.dispose()


def trial(
    copies: Copies, reference: tuple[object, ...], donors: int, batch: float, rng: random.Random
) -> str:
    url = copies.new()
    data = copies.workdir / f"data-{uuid.uuid4().hex[:6]}"
    try:
        points = []
        for _ in range(rng.choice((1, 2))):
            process = subprocess.Popen(
                close_args(data),
                env=environment(url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            target, extra = rng.randrange(0, donors), rng.uniform(0.0, batch)
            done = asyncio.run(kill_when(url, process, target, extra))
            points.append(f"{target:>5} +{extra * 1000:3.0f} ms → {done:>5}")
        close_to_the_end(url, data)
        same = asyncio.run(snapshot(url)) == reference
        checked = ledger_check(url, data)
        verdict = "identical" if same and checked else "DIFFERENT" if not same else "CHECK FAILED"
        return f"{' | '.join(points):<44} {verdict}"
    finally:
        copies.drop(url)


def run(kind: str, postgres: str | None, donors: int, trials: int, workdir: Path) -> int:
    seeded = fresh_database(kind, postgres, workdir)
    upgrade(seeded)
    settings = Settings(data_dir=workdir, database_url=seeded, domain="bench.test")

    async def prepare() -> None:
        db = Database(seeded)
        try:
            await seed(db, settings, donors, random.Random(donors))
        finally:
            await db.dispose()

    asyncio.run(prepare())
    copies = Copies(seeded, postgres if kind == "postgresql" else None, workdir)
    failures = 0
    try:
        reference_url = copies.new()
        close_to_the_end(reference_url, workdir / "data-reference")  # start-up: migrations
        copies.drop(reference_url)
        reference_url = copies.new()
        span = close_to_the_end(reference_url, workdir / "data-reference")
        reference = asyncio.run(snapshot(reference_url))
        shares = sum(1 for row in reference[0] if row[4] == "close_share")
        copies.drop(reference_url)
        print(
            f"\n{kind}: {donors} donors, {shares} shares; uninterrupted close {span:.1f} s "
            f"({donors // BATCH_DONORS} batches)",
            flush=True,
        )
        print(f"{'trial':>5}  {'killed at donors + delay → donors done':<44} ledger", flush=True)
        rng = random.Random(2026)
        batch = span / max(1, donors // BATCH_DONORS)
        for number in range(1, trials + 1):
            outcome = trial(copies, reference, donors, batch, rng)
            failures += "identical" not in outcome
            print(f"{number:>5}  {outcome}", flush=True)
    finally:
        if kind == "postgresql" and postgres:
            drop_database(postgres, seeded)
    print(f"{kind}: {trials - failures} of {trials} killed closes ended identical", flush=True)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--donors", type=int, default=5000)
    parser.add_argument("--postgres", default=None, help="server URL; omit to skip PostgreSQL")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            failures += run(kind, args.postgres, args.donors, args.trials, Path(tmp))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
