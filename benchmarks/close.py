"""Time and peak memory of the month close: 100k / 300k / 1M clicks (10 per donor, over
50,000 creators) on SQLite and, with --postgres URL, on PostgreSQL.

Seeding uses SQLAlchemy Core batches. Each close runs as its own process
(`likewise period close`), so its wall time and peak RSS are its own. Baseline, measured in
the same run: the plain-Python split of the same clicks (fee, then largest remainder), in
memory with no database. Target: 1M clicks under 30 s and 512 MiB. On PostgreSQL the close
settles two batches at once (`--workers`); the CPU column shows how much of a noisy wall
time was the close's own work.

    .venv/bin/python benchmarks/close.py [--sizes 100000,300000,1000000]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from server.db.engine import Database
from server.db.migrations import upgrade
from server.models import Account, Click, Identity, LedgerKind, Thing, TransferKind
from server.models.base import utcnow
from server.money.ledger import Owner, TransferSpec, ledger_accounts, post_many
from server.money.split import equal_split, fee_of
from server.settings import Settings

CLICKS_PER_DONOR = 10
CREATORS = 50_000
BATCH = 10_000
PERIOD = "2026-10"
TARGET_SECONDS = 30.0
TARGET_MIB = 512.0


async def insert_in_batches(db: Database, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Seed rows with SQLAlchemy Core, BATCH rows a transaction."""
    for start in range(0, len(rows), BATCH):
        async with db.transaction() as session:
            connection = await session.connection()
            await connection.execute(table.insert(), rows[start : start + BATCH])


async def _ids(db: Database, column: object) -> list[int]:
    async with db.session() as session:
        result = await (await session.connection()).execute(select(column).order_by(column))  # type: ignore[call-overload]
        return [row[0] for row in result.all()]


async def seed(db: Database, settings: Settings, donors: int, rng: random.Random) -> None:
    now = utcnow()
    account = {
        "password_hash": "x",
        "is_admin": False,
        "display_name": "",
        "summary": "",
        "locked": False,
        "discoverable": True,
        "created_at": now,
    }
    await insert_in_batches(
        db,
        Account.__table__,  # type: ignore[attr-defined]
        [{"username": f"d{i}", "email": f"d{i}@example.org", **account} for i in range(donors)],
    )
    await insert_in_batches(
        db,
        Identity.__table__,  # type: ignore[attr-defined]
        [
            {
                "network": "web",
                "external_id": f"https://site{c}.example",
                "handle": "",
                "profile_url": "",
                "created_at": now,
            }
            for c in range(CREATORS)
        ],
    )
    identities = await _ids(db, Identity.__table__.c.id)  # type: ignore[attr-defined]
    await insert_in_batches(
        db,
        Thing.__table__,  # type: ignore[attr-defined]
        [
            {
                "uri": f"https://t.example/{i}",
                "kind": "external",
                "identity_id": i,
                "title": "",
                "created_at": now,
            }
            for i in identities
        ],
    )
    things = await _ids(db, Thing.__table__.c.id)  # type: ignore[attr-defined]
    donor_ids = await _ids(db, Account.__table__.c.id)  # type: ignore[attr-defined]
    clicks = [
        {
            "donor_id": d,
            "thing_id": t,
            "period": PERIOD,
            "source": "web",
            "source_ref": None,
            "created_at": now,
        }
        for d in donor_ids
        for t in rng.sample(things, CLICKS_PER_DONOR)
    ]
    await insert_in_batches(db, Click.__table__, clicks)  # type: ignore[attr-defined]
    await fund(db, settings, donor_ids, rng)


async def fund(db: Database, settings: Settings, donors: list[int], rng: random.Random) -> None:
    for start in range(0, len(donors), BATCH):
        chunk = donors[start : start + BATCH]
        async with db.transaction() as session:
            owners = [Owner(LedgerKind.outside_world)] + [
                Owner(LedgerKind.donor_wallet, account_id=d) for d in chunk
            ]
            accounts = await ledger_accounts(session, settings, owners)
            world = int(accounts[owners[0]].id or 0)
            await post_many(
                session,
                [
                    TransferSpec(
                        f"fund:bench:{o.account_id}",
                        world,
                        int(accounts[o].id or 0),
                        rng.randint(100, 2000),
                        TransferKind.funding,
                    )
                    for o in owners[1:]
                ],
            )


def baseline(donors: int, rng: random.Random) -> float:
    """The same arithmetic in plain Python: per donor, fee then the split of 10 clicks."""
    budgets = [rng.randint(100, 2000) for _ in range(donors)]
    clicks = [[rng.randrange(CREATORS) for _ in range(CLICKS_PER_DONOR)] for _ in range(donors)]
    started = time.perf_counter()
    credited: dict[int, int] = {}
    for budget, liked in zip(budgets, clicks, strict=True):
        fee = fee_of(budget, 500)
        for creator, share in zip(liked, equal_split(budget - fee, len(liked)), strict=True):
            credited[creator] = credited.get(creator, 0) + share
    return time.perf_counter() - started


def _peak_mib(pid: int) -> float:
    """VmHWM of a live process: its own peak RSS (ru_maxrss would include the parent's,
    inherited across fork and exec)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stat(pid: str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu() -> float | None:
    """CPU seconds used so far by the local PostgreSQL server: its postmaster, the children
    it has reaped (finished backends) and the live ones; None without one here. Anything
    else the server does meanwhile is counted too."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[str, list[str]] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                procs[entry.name] = _stat(entry.name)
        except OSError:
            continue
    roots = [pid for pid, fields in procs.items() if fields[1] not in procs]
    if len(roots) != 1:
        return None
    total = 0
    for pid, fields in procs.items():
        total += int(fields[11]) + int(fields[12])  # utime + stime
        if pid == roots[0]:
            total += int(fields[13]) + int(fields[14])  # cutime + cstime of reaped backends
    return total / tick


def environment(url: str) -> dict[str, str]:
    """The environment of a `likewise` command on the benchmark's instance and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    env.update(
        LIKEWISE_DATABASE_URL=url,
        LIKEWISE_DOMAIN="bench.test",
        LIKEWISE_DEV="1",
        LIKEWISE_FEE_BPS="500",
    )
    return env


def run_close(url: str, data: Path) -> tuple[float, float, float, float | None]:
    """Wall seconds, CPU seconds and peak MiB of the close process, and the PostgreSQL
    server's CPU seconds meanwhile (None on SQLite, which works inside the process)."""
    env = environment(url)
    command = [sys.executable, "-m", "server.cli", "period", "close", "--period", PERIOD]
    command += ["--data", str(data)]
    server_before = postgres_cpu() if url.startswith("postgresql") else None
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        peak = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _peak_mib(process.pid))
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"close failed:\n{log.read().decode()}")
    server = None
    if server_before is not None:
        time.sleep(0.5)  # the close's backends exit and are reaped
        after = postgres_cpu()
        server = None if after is None else after - server_before
    return elapsed, usage.ru_utime + usage.ru_stime, peak, server


def server_statement(postgres: str, sql: str) -> None:
    """One statement on the PostgreSQL server of `postgres` (CREATE/DROP DATABASE)."""
    server = make_url(postgres).set(drivername="postgresql")

    async def execute() -> None:
        connection = await asyncpg.connect(server.render_as_string(hide_password=False))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute())


def fresh_database(kind: str, postgres: str | None, workdir: Path, template: str = "") -> str:
    """A new, empty database (or on PostgreSQL a copy of `template`); its URL."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / (uuid.uuid4().hex + '.db')}"
    name = f"lw_bench_{uuid.uuid4().hex[:8]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    server_statement(postgres or "", f'CREATE DATABASE "{name}"{copy}')
    return make_url(postgres or "").set(database=name).render_as_string(hide_password=False)


def measure(
    kind: str, clicks: int, postgres: str | None, workdir: Path
) -> tuple[float, float, float, float, float | None]:
    url = fresh_database(kind, postgres, workdir)
    upgrade(url)
    settings = Settings(data_dir=workdir, database_url=url, domain="bench.test")
    donors = clicks // CLICKS_PER_DONOR

    async def prepare() -> float:
        db = Database(url)
        started = time.perf_counter()
        try:
            await seed(db, settings, donors, random.Random(clicks))
        finally:
            await db.dispose()
        return time.perf_counter() - started

    seeded = asyncio.run(prepare())
    try:
        elapsed, cpu, mib, server = run_close(url, workdir / f"data-{kind}-{clicks}")
    finally:
        if kind == "postgresql":
            drop_database(postgres or "", url)
    return seeded, elapsed, cpu, mib, server


def drop_database(server_url: str, url: str) -> None:
    server_statement(server_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--postgres", default=None, help="server URL; omit to skip PostgreSQL")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(
            f"{'db':<11}{'clicks':>9}{'donors':>8}{'seed s':>8}{'close s':>9}{'cpu s':>7}"
            f"{'db cpu s':>9}{'µs/click':>10}{'peak MiB':>10}{'baseline s':>12}{'ratio':>8}"
        )
        for kind in kinds:
            for clicks in sizes:
                seeded, elapsed, cpu, mib, server = measure(kind, clicks, args.postgres, workdir)
                db_cpu = "" if server is None else f"{server:.1f}"
                base = baseline(clicks // CLICKS_PER_DONOR, random.Random(1))
                ok = "" if elapsed < TARGET_SECONDS and mib < TARGET_MIB else "  (over target)"
                print(
                    f"{kind:<11}{clicks:>9}{clicks // CLICKS_PER_DONOR:>8}{seeded:>8.1f}"
                    f"{elapsed:>9.2f}{cpu:>7.2f}{db_cpu:>9}"
                    f"{elapsed / clicks * 1e6:>10.1f}{mib:>10.0f}"
                    f"{base:>12.2f}{elapsed / base:>7.1f}x{ok}",
                    flush=True,
                )
    print(
        f"target: 1M clicks closed in < {TARGET_SECONDS:.0f} s and < {TARGET_MIB:.0f} MiB; "
        "close time includes process start-up (~1 s); cpu s is the close process's own "
        "(with SQLite all of the work); db cpu s is the PostgreSQL server's meanwhile"
    )


if __name__ == "__main__":
    main()
