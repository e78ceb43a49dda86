"""One polling round of 1,000 connected accounts with 50 new likes each, through the real
server code, against the fakes of Mastodon and Bluesky on loopback, with their rate limits.

The fake Mastodon API (700 accounts by default) and the fake Bluesky (AppView, PDS and PLC
directory in one; 300 accounts) run as processes of their own on loopback ports, filled
before they serve: every account has `--likes` likes given this month, of posts by 500
different authors. Each fake limits requests as its network documents it: Mastodon 300 per
5 minutes per token, Bluesky 3000 per 5 minutes for all callers (it sends `ratelimit-*`
headers, and counts in `over_limit` each request a client sent after being told it had
none left: that must stay 0).

The database (SQLite file, or `--postgres`), migrated, holds 1,000 donors, each with one
connected account whose first round is done (nothing was there then), so the likes are new.
Timed: `bridges.poll` jobs queued as the sweep queues them (`enqueue_due`), run by the
instance's own worker (`Worker.drain` with `handle_poll`) until every round is over:
every page read over HTTP, each like a `bridge_like` row and a click.

Baselines measured in the same run: the same pages fetched and parsed by the bridges library
alone (`list_likes`, following cursors, no database), and the same pages parsed by it from
memory (no HTTP, no database). Target: the round under 60 s on SQLite, no request over a
rate limit.

    .venv/bin/python benchmarks/bridges.py [--accounts 1000] [--likes 50] [--bluesky 0.3]
        [--workers 1] [--profile] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func
from sqlmodel import col, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Its sibling scripts, also when run as `python -m benchmarks.bridges` (after ROOT, so that
# `bridges` stays the library).
sys.path.insert(1, str(ROOT / "benchmarks"))

from bridges_library import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    Connected,
    Recording,
    library_round,
    replaying,
)
from close import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    drop_database,
    fresh_database,
    insert_in_batches,
)
from inbox import _spawn, _wait_up, free_port  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

from bridges.base import Credentials  # noqa: E402
from server.connections.credentials import context_of, seal_credentials  # noqa: E402
from server.connections.polling import POLL_JOB, enqueue_due, handle_poll  # noqa: E402
from server.db import bridge_sql, clicks_sql, round_trip  # noqa: E402
from server.db.engine import Database  # noqa: E402
from server.db.migrations import upgrade  # noqa: E402
from server.http import build_http_client  # noqa: E402
from server.jobs.handler import JobContext  # noqa: E402
from server.jobs.worker import Worker  # noqa: E402
from server.models import (  # noqa: E402
    Account,
    BridgeLike,
    BridgeLikeOutcome,
    Click,
    ConnectedAccount,
    ConnectionState,
    Job,
)
from server.models.base import utcnow  # noqa: E402
from server.settings import Settings  # noqa: E402

TARGET_SECONDS = 60.0
AUTHORS = 500
MASTODON_LIMIT = (300, 300.0)  # requests per token, per 5 minutes (Mastodon's default)
BLUESKY_LIMIT = (3000, 300.0)  # requests for all callers, per 5 minutes (a PDS's per-IP limit)


# --- the fakes, each in a process of its own ------------------------------------------------


def serve_mastodon(port: int, accounts: int, likes: int, limit: int) -> None:
    """The fake Mastodon API with `accounts` users m0… each having favourited `likes`
    statuses (of AUTHORS authors on five servers)."""
    import uvicorn

    from tests.support.fakes.mastodon_api import FakeMastodonApi, Knobs

    knobs = Knobs(rate_limit=limit, rate_window=MASTODON_LIMIT[1], hostile_html=False)
    fake = FakeMastodonApi(host=f"127.0.0.1:{port}", knobs=knobs)
    for n in range(accounts):
        for k in range(likes):
            author = (n * likes + k) % AUTHORS
            fake.favourite(f"m{n}", author=f"c{author}@remote{author % 5}.example")
    uvicorn.run(fake.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_bluesky(port: int, accounts: int, likes: int, limit: int) -> None:
    """The fake Bluesky with `accounts` accounts b0.test… each having liked `likes` posts
    (of AUTHORS authors)."""
    import uvicorn

    from tests.support.fakes.bluesky import FakeBluesky, Knobs

    fake = FakeBluesky(
        host=f"127.0.0.1:{port}", knobs=Knobs(rate_limit=limit, rate_window=BLUESKY_LIMIT[1])
    )
    authors = [fake.add_account(f"author{a}.test") for a in range(AUTHORS)]
    for n in range(accounts):
        did = fake.add_account(f"b{n}.test")
        for k in range(likes):
            author = authors[(n * likes + k) % AUTHORS]
            fake.like(did, subject=fake.post(author, f"post {n}-{k}"))
    uvicorn.run(fake.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Fakes:
    mastodon: str
    bluesky: str
    processes: list[Any] = field(default_factory=list)

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            name: httpx.get(f"{base}/_test/stats", timeout=10).json()
            for name, base in (("mastodon", self.mastodon), ("bluesky", self.bluesky))
        }

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=20)


def start_fakes(args: argparse.Namespace, mastodon: int, bluesky: int) -> Fakes:
    here = str(Path(__file__).resolve())
    ports = free_port(), free_port()
    common = ["--likes", str(args.likes), "--mastodon-limit", str(args.mastodon_limit)]
    common += ["--bluesky-limit", str(args.bluesky_limit)]
    fakes = Fakes(f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}")
    fakes.processes = [
        _spawn([here, "--serve-mastodon", str(ports[0]), "--accounts", str(mastodon), *common]),
        _spawn([here, "--serve-bluesky", str(ports[1]), "--accounts", str(bluesky), *common]),
    ]
    filling = max(60.0, (mastodon + bluesky) * args.likes / 500)
    for base in (fakes.mastodon, fakes.bluesky):
        _wait_up(f"{base}/_test/stats", timeout=filling)
    return fakes


# --- the accounts -----------------------------------------------------------------------------


def accounts_on_fakes(fakes: Fakes, mastodon: int, bluesky: int) -> list[Connected]:
    """Each fake account as a connection would store it: a Mastodon token (minted without the
    OAuth dance), a Bluesky DID and its PDS."""
    from tests.support.fakes.bluesky import did_for

    made: list[Connected] = []
    with httpx.Client(base_url=fakes.mastodon, timeout=30) as control:
        for n in range(mastodon):
            token = control.post("/_test/token", json={"username": f"m{n}"}).json()
            made.append(
                Connected(
                    "fediverse",
                    f"{fakes.mastodon}/users/m{n}",
                    f"@m{n}@{fakes.mastodon.removeprefix('http://')}",
                    Credentials(token["access_token"], extra={"base_url": token["base_url"]}),
                )
            )
    for n in range(bluesky):
        did = did_for(f"b{n}.test")
        extra = {"did": did, "pds": fakes.bluesky}
        made.append(Connected("bluesky", did, f"b{n}.test", Credentials(extra=extra)))
    return made


def instance_settings(url: str, workdir: Path, fakes: Fakes) -> Settings:
    bluesky = {"base_url": fakes.bluesky, "directory_url": fakes.bluesky}
    return Settings(
        data_dir=workdir / "data",
        domain="bench.test",
        database_url=url,
        dev=True,
        secret_key=secrets.token_urlsafe(48),
        extra={"bridges": {"bluesky": bluesky}},
    )


async def seed(db: Database, settings: Settings, connected: Sequence[Connected]) -> None:
    """A donor per account, connected, its first round done a day ago and due again now."""
    now = utcnow()
    donors = [
        {
            "username": f"d{n}",
            "email": f"d{n}@example.org",
            "password_hash": "x",
            "is_admin": False,
            "display_name": "",
            "summary": "",
            "locked": False,
            "discoverable": True,
            "created_at": now,
        }
        for n in range(len(connected))
    ]
    await insert_in_batches(db, Account.__table__, donors)  # type: ignore[attr-defined]
    async with db.session() as session:
        ids = list((await session.exec(select(Account.id).order_by(col(Account.id)))).all())
    rows = []
    for account_id, one in zip(ids, connected, strict=True):
        context = context_of(account_id or 0, one.network, one.external_id)
        rows.append(
            {
                "account_id": account_id,
                "network": one.network,
                "external_id": one.external_id,
                "handle": one.handle,
                "profile_url": "",
                "credentials": seal_credentials(settings.secret_key, one.credentials, context),
                "scopes": "",
                "cursor": "",
                "state": ConnectionState.active.value,
                "enabled": True,
                "last_checked_at": now - timedelta(days=1),
                "last_error": "",
                "next_poll_at": now - timedelta(seconds=1),
                "round_started_at": None,
                "round_pages": 0,
                "failures": 0,
                "likes_counted": 0,
                "created_at": now - timedelta(days=1),
                "updated_at": now - timedelta(days=1),
            }
        )
    await insert_in_batches(db, ConnectedAccount.__table__, rows)  # type: ignore[attr-defined]


# --- the round through the server -------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    seconds: float
    jobs: int
    clicks: int
    likes: int
    counted: int
    finished: int  # accounts whose round ended without an error
    failed_jobs: int
    errors: list[str]
    statements: Counter[str] = field(default_factory=Counter)  # the SQL the round sent
    cpu: float = 0.0  # CPU seconds of this process (its threads too) during the round


async def _outcome(db: Database, seconds: float, jobs: int) -> Round:
    async with db.session() as session:
        clicks = (await session.exec(select(func.count()).select_from(Click))).one()
        likes = (await session.exec(select(func.count()).select_from(BridgeLike))).one()
        counted = (
            await session.exec(
                select(func.count())
                .select_from(BridgeLike)
                .where(BridgeLike.outcome == BridgeLikeOutcome.counted)
            )
        ).one()
        finished = (
            await session.exec(
                select(func.count())
                .select_from(ConnectedAccount)
                .where(
                    col(ConnectedAccount.round_started_at).is_(None),
                    ConnectedAccount.last_error == "",
                    ConnectedAccount.likes_counted > 0,
                )
            )
        ).one()
        failed = (
            await session.exec(
                select(func.count()).select_from(Job).where(col(Job.last_error) != "")
            )
        ).one()
        errors = (
            await session.exec(
                select(ConnectedAccount.last_error)
                .where(ConnectedAccount.last_error != "")
                .distinct()
                .limit(5)
            )
        ).all()
    return Round(seconds, jobs, clicks, likes, counted, finished, failed, list(errors))


async def poll_round(settings: Settings, workers: int, profile: cProfile.Profile | None) -> Round:
    """Queue the due polls as the sweep does; the instance's worker runs them until none is
    ready (each account's next page is queued by its poll, due at once while the limit has
    room)."""
    db = Database(settings.database_url)
    statements: Counter[str] = Counter()

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements[" ".join(statement.split())[:90]] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    undo = count_driver_statements(statements)
    try:
        async with build_http_client(settings) as http:
            context = JobContext(db, settings, http)
            runners = [Worker(context, {POLL_JOB: handle_poll}) for _ in range(workers)]
            if profile is not None:
                profile.enable()
            started, cpu = time.perf_counter(), time.process_time()
            await enqueue_due(db)
            ran = await asyncio.gather(*(runner.drain(max_rounds=100_000) for runner in runners))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            if profile is not None:
                profile.disable()
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        done = await _outcome(db, seconds, sum(ran))
        return replace(done, statements=statements, cpu=cpu)
    finally:
        undo()
        await db.dispose()


def count_driver_statements(statements: Counter[str]) -> Callable[[], None]:
    """Count the statements the ingest sends to the driver itself (server/db/round_trip.py),
    which SQLAlchemy's events do not see; returns what undoes it."""
    modules = (bridge_sql, clicks_sql)
    original = round_trip.run

    async def counted(session: Any, sql: str, built: Any) -> Any:
        statements[" ".join(sql.split())[:90]] += 1
        return await original(session, sql, built)

    for module in modules:
        vars(module)["run"] = counted

    def undo() -> None:
        for module in modules:
            vars(module)["run"] = original

    return undo


# --- the run ----------------------------------------------------------------------------------


PACKAGES = (
    "server",
    "bridges",
    "sqlalchemy",
    "sqlmodel",
    "aiosqlite",
    "asyncpg",
    "httpx",
    "httpcore",
    "asyncio",
    "greenlet",
    "json",
)


def _package(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    for name in PACKAGES:
        if name in parts:
            return name
    return "other" if filename.startswith(("/", "<frozen")) else "builtins"


def _profile_text(profile: cProfile.Profile, rows: int = 25) -> str:
    """Own time by package (what the round's CPU went to), then the top functions."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    own: Counter[str] = Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        own[_package(filename)] += tottime
    total = sum(own.values()) or 1.0
    out.write("own time by package:\n")
    for name, seconds in own.most_common():
        out.write(f"  {name:<12} {seconds:8.2f} s  {seconds / total:5.1%}\n")
    stats.sort_stats("tottime").print_stats(rows)
    return out.getvalue()


def _requests(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> int:
    return sum(after[name]["requests"] - before[name]["requests"] for name in after)


def run(args: argparse.Namespace, workdir: Path) -> bool:
    bluesky = round(args.accounts * args.bluesky)
    mastodon = args.accounts - bluesky
    kind = "PostgreSQL" if args.postgres else "SQLite"
    started = time.perf_counter()
    fakes = start_fakes(args, mastodon, bluesky)
    url = fresh_database("postgresql" if args.postgres else "sqlite", args.postgres, workdir)
    try:
        connected = accounts_on_fakes(fakes, mastodon, bluesky)
        settings = instance_settings(url, workdir, fakes)
        upgrade(url)

        async def fill() -> None:
            db = Database(url)
            try:
                await seed(db, settings, connected)
            finally:
                await db.dispose()

        asyncio.run(fill())
        expected = args.accounts * args.likes
        print(
            f"{args.accounts} connected accounts ({mastodon} Mastodon, {bluesky} Bluesky), "
            f"{args.likes} new likes each ({expected:,} likes), {kind}; "
            f"set up in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        print(
            f"rate limits: Mastodon {args.mastodon_limit} per {MASTODON_LIMIT[1]:.0f} s per "
            f"token, Bluesky {args.bluesky_limit} per {BLUESKY_LIMIT[1]:.0f} s for all callers",
            flush=True,
        )
        # The round through the server, first: the rate limits' windows are its own
        before = fakes.stats()
        profile = cProfile.Profile() if args.profile else None
        done = asyncio.run(poll_round(settings, args.workers, profile))
        between = fakes.stats()
        # Baseline 1: the library alone over HTTP, no database (also records the pages)
        recording = Recording()
        fetched = asyncio.run(library_round(recording, settings, connected))
        after = fakes.stats()
        # Baseline 2: the same pages parsed by the library from memory
        parsed = asyncio.run(library_round(replaying(recording.pages), settings, connected))
        requests = _requests(before, between)
        print(
            f"  library alone, over HTTP, no database   {fetched.seconds:7.2f} s  "
            f"{fetched.likes / fetched.seconds:9.0f} likes/s  "
            f"({fetched.requests} requests, {fetched.likes:,} likes; fakes counted "
            f"{_requests(between, after)}"
            + (f"; {fetched.limited} accounts cut short by a 429" if fetched.limited else "")
            + ")"
        )
        print(
            f"  library alone, pages from memory        {parsed.seconds:7.2f} s  "
            f"{parsed.likes / parsed.seconds:9.0f} likes/s  ({parsed.requests} pages)"
        )
        print(
            f"  server round (worker, {args.workers} of them, {kind:<10}) {done.seconds:7.2f} s  "
            f"{done.counted / done.seconds:9.0f} likes/s  ({requests} requests, "
            f"{done.jobs} jobs, {done.likes:,} bridge_like rows, {done.clicks:,} clicks; "
            f"{done.cpu:.1f} CPU s in this process)"
        )
        print(
            f"  ratio: round / library over HTTP {done.seconds / fetched.seconds:.1f}x, "
            f"round / pages from memory {done.seconds / parsed.seconds:.1f}x; "
            f"per account {done.seconds / args.accounts * 1000:.1f} ms, "
            f"per like {done.seconds / max(done.counted, 1) * 1e6:.0f} µs, "
            f"{done.statements.total():,} SQL statements "
            f"({done.statements.total() / max(done.counted, 1):.1f} a like)"
        )
        if args.statements:
            for statement, times in done.statements.most_common(args.statements):
                print(f"    {times:7d}  {statement}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory of this process (round and baselines): {peak:.0f} MiB")
        for name, figures in between.items():
            print(
                f"  fake {name:<9} after the round: requests {figures['requests']:6d}  "
                f"429s {figures['rate_limited']}  over_limit {figures['over_limit']}"
            )
        over = sum(figures["over_limit"] for figures in between.values())
        complete = (
            done.counted == expected
            and done.clicks == expected
            and done.finished == args.accounts
            and done.failed_jobs == 0
        )
        if not complete:
            print(
                f"  INCOMPLETE: {done.counted} counted, {done.clicks} clicks, "
                f"{done.finished} rounds finished, {done.failed_jobs} failed jobs; "
                f"errors: {done.errors}"
            )
        ok = complete and over == 0 and done.seconds < TARGET_SECONDS
        print(
            f"one round of {args.accounts} accounts x {args.likes} likes: {done.seconds:.1f} s "
            f"(target < {TARGET_SECONDS:.0f} s), over_limit {over} (target 0), every like "
            f"a click: {'yes' if complete else 'NO'}: {'MET' if ok else 'NOT MET'}"
        )
        if profile is not None:
            print(_profile_text(profile))
        return ok
    finally:
        fakes.stop()
        if args.postgres:
            drop_database(args.postgres, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--likes", type=int, default=50)
    parser.add_argument("--bluesky", type=float, default=0.3, help="share of Bluesky accounts")
    parser.add_argument("--workers", type=int, default=1, help="workers in the process")
    parser.add_argument("--mastodon-limit", type=int, default=MASTODON_LIMIT[0])
    parser.add_argument("--bluesky-limit", type=int, default=BLUESKY_LIMIT[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the round")
    parser.add_argument("--statements", type=int, default=0, help="show the N most sent SQL")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL")
    parser.add_argument("--serve-mastodon", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-bluesky", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mastodon:
        serve_mastodon(args.serve_mastodon, args.accounts, args.likes, args.mastodon_limit)
        return 0
    if args.serve_bluesky:
        serve_bluesky(args.serve_bluesky, args.accounts, args.likes, args.bluesky_limit)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        return 0 if run(args, Path(tmp)) else 1


if __name__ == "__main__":
    sys.exit(main())
