"""One polling round of 1,000 connected accounts with 50 new likes each, through the real
server code, against the fakes of all ten networks on loopback, with their rate limits.

The accounts are spread over the networks by `--mix` (default: fediverse 25 %, Bluesky 20 %,
X and YouTube 10 % each, GitHub 7 %, Flickr, SoundCloud and Tumblr 6 % each, Vimeo and
Dailymotion 5 % each; `--mix classic` is the run of before: Mastodon 700, Bluesky 300; or
`--mix fediverse=2,github=1`; the mix and the table by network are in
benchmarks/bridges_networks.py). Each network's fake (tests/support/fakes/) runs as a process
of its own on a loopback port, filled before it serves (benchmarks/bridges_fakes.py): every
account has `--likes` likes given this month, of works by 500 creators of that network. The
fakes whose like clock starts at a fixed date (GitHub, Vimeo, YouTube, Flickr, Tumblr) have
it set in the running month. Each fake limits requests as its network documents it:
Mastodon 300 per 5 minutes per token, Bluesky 3000 per 5 minutes for all callers, Flickr
3600 an hour per key, SoundCloud 300 per 5 minutes per token, Vimeo 250 a minute per token,
X 75 per 15 minutes per token, GitHub 5000 an hour per token, YouTube 10,000 quota units a
day, Tumblr 1000 an hour per app, Dailymotion 1000 per token; each counts in `over_limit`
every request a client sent after being told it had none left: that must stay 0. X is on
with `[bridges.x] monthly_requests` (`--x-budget`, far above what a round reads); the run
says how many the round used.

The database (SQLite file, or `--postgres`), migrated, holds one donor per account, each
with one connected account whose credentials are sealed with the instance's key as a
connection stores them, and whose first round is done (nothing was there then), so the likes
are new. Timed: `bridges.poll` jobs queued as the sweep queues them (`enqueue_due`), run by
the instance's own worker (`Worker.drain` with `handle_poll`) until every round is over:
every page read over HTTP, each like a `bridge_like` row and a click. The run checks that
every like became a click (a like counted as before the period would make the figure
meaningless), and prints per network the accounts, pages, likes, requests, 429s and
over-limit requests.

Baselines measured in the same run: the same pages fetched and parsed by the bridges library
alone (`list_likes`, following cursors, no database), and the same pages parsed by it from
memory (no HTTP, no database). Target: the round under 60 s on SQLite, no request over a
rate limit.

    .venv/bin/python benchmarks/bridges.py [--accounts 1000] [--likes 50] [--mix all]
        [--workers 1] [--profile] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Last measured (2026-12-07, all ten networks, the default mix; on a machine of 2 CPUs under
a load average of 7 to 14 from other work, so every time is several times what a quiet
machine gives: the classic run, 40.3 s when last measured, took 296 s under this load):
- SQLite: 213.0 s (235 likes/s; 57.9 CPU s in the round's process; 5.4x the library over
  HTTP, 39.8 s, and 15.5x the library from memory, 13.8 s, in the same run; 0.7 SQL
  statements a like; 193 MiB peak; 1,370 requests: one page an account, two on Mastodon,
  three on Tumblr; 0 429s, 0 over-limit requests on every network; every like a click; X:
  100 of 100,000 monthly requests used). A run before it, under a load of 12 to 14: 244.2 s
  (205 likes/s; 58.0 CPU s; 4.3x and 10.9x; 191 MiB).
- PostgreSQL: 222.9 s (224 likes/s; 56.3 CPU s; 7.3x the library over HTTP, 30.5 s, and
  34.8x from memory, 6.4 s, the load easing to 6.5 as the baselines ran; 0.6 SQL statements
  a like; 186 MiB; 0 over-limit requests; every like a click). A run before it, under a load
  of 11 to 14: 285.1 s (175 likes/s; 56.4 CPU s; 6.5x and 18.2x).
- The classic mix (Mastodon 700, Bluesky 300) on SQLite under the same load: 296.2 s (169
  likes/s; 72.8 CPU s; 5.6x and 18.3x; 0.8 SQL statements a like; 1,700 requests), against
  40.3 s (1,241 likes/s; 5.2x and 19.3x; 146 MiB) when last measured; PostgreSQL was 41.9 s
  then. The mix reads fewer pages than the classic run (Mastodon's 40 favourites a
  page against 50 to 100 likes a page elsewhere; Tumblr's 20 make 3 pages an account).
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

from sqlalchemy import event, func
from sqlmodel import col, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Its sibling scripts, also when run as `python -m benchmarks.bridges` (after ROOT, so that
# `bridges` stays the library).
sys.path.insert(1, str(ROOT / "benchmarks"))

from bridges_fakes import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    BLUESKY_LIMIT,
    MASTODON_LIMIT,
    X_BUDGET,
    Fake,
    read_accounts,
    start,
    stop,
)
from bridges_library import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    Connected,
    Recording,
    library_round,
    replaying,
)
from bridges_networks import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    PerNetwork,
    Stats,
    count_by_network,
    delta,
    parse_mix,
    print_networks,
    split,
)
from close import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    drop_database,
    fresh_database,
    insert_in_batches,
)

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
from tests.support.fakes.flickr import CONSUMER_KEY, CONSUMER_SECRET  # noqa: E402
from tests.support.fakes.oauth2 import CLIENT_ID, CLIENT_SECRET  # noqa: E402

TARGET_SECONDS = 60.0


# --- the accounts -----------------------------------------------------------------------------


def connected_accounts(fakes: dict[str, Fake]) -> list[Connected]:
    """Each fake account as a connection would store it, the networks interleaved (as
    connections made over time would be), so that the round meets them mixed."""
    by_network = [
        [Connected(name, *one) for one in read_accounts(fake)] for name, fake in fakes.items()
    ]
    mixed: list[Connected] = []
    for position in range(max((len(made) for made in by_network), default=0)):
        mixed += [made[position] for made in by_network if position < len(made)]
    return mixed


def instance_settings(url: str, workdir: Path, fakes: dict[str, Fake], x_budget: int) -> Settings:
    """Every started network at its fake, with the fake's app credentials."""
    bridges: dict[str, dict[str, Any]] = {}
    for name, fake in fakes.items():
        if name == "bluesky":
            bridges[name] = {"base_url": fake.base, "directory_url": fake.base}
        elif name == "flickr":
            table = {"client_id": CONSUMER_KEY, "client_secret": CONSUMER_SECRET}
            bridges[name] = {**table, "base_url": fake.base}
        elif name != "fediverse":
            table = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            bridges[name] = {**table, "base_url": fake.base}
    if "x" in bridges:
        bridges["x"]["monthly_requests"] = x_budget
    return Settings(
        data_dir=workdir / "data",
        domain="bench.test",
        database_url=url,
        dev=True,
        secret_key=secrets.token_urlsafe(48),
        extra={"bridges": bridges},
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
    by_network: dict[str, PerNetwork] = field(default_factory=dict)


async def _outcome(db: Database, seconds: float, jobs: int) -> Round:
    async with db.session() as session:
        by_network = await count_by_network(session)
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
    return Round(
        seconds, jobs, clicks, likes, counted, finished, failed, list(errors), by_network=by_network
    )


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


def _stats(fakes: dict[str, Fake]) -> Stats:
    return {name: fake.stats() for name, fake in fakes.items()}


def _seconds(by_network: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in by_network.items())


def _setup(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Fake], dict[str, int]]:
    counts = split(args.accounts, args.mix)
    limits = {"fediverse": args.mastodon_limit, "bluesky": args.bluesky_limit}
    return start(counts, args.likes, limits, workdir), counts


def run(args: argparse.Namespace, workdir: Path) -> bool:
    kind = "PostgreSQL" if args.postgres else "SQLite"
    started = time.perf_counter()
    fakes, counts = _setup(args, workdir)
    url = fresh_database("postgresql" if args.postgres else "sqlite", args.postgres, workdir)
    try:
        connected = connected_accounts(fakes)
        settings = instance_settings(url, workdir, fakes, args.x_budget)
        upgrade(url)

        async def fill() -> None:
            db = Database(url)
            try:
                await seed(db, settings, connected)
            finally:
                await db.dispose()

        asyncio.run(fill())
        expected = args.accounts * args.likes
        mixed = ", ".join(f"{name} {number}" for name, number in counts.items())
        print(
            f"{args.accounts} connected accounts ({mixed}), {args.likes} new likes each "
            f"({expected:,} likes), {kind}; set up in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        # The round through the server, first: the rate limits' windows are its own
        before = _stats(fakes)
        profile = cProfile.Profile() if args.profile else None
        done = asyncio.run(poll_round(settings, args.workers, profile))
        between = _stats(fakes)
        # Baseline 1: the library alone over HTTP, no database (also records the pages)
        recording = Recording()
        fetched = asyncio.run(library_round(recording, settings, connected))
        after = _stats(fakes)
        # Baseline 2: the same pages parsed by the library from memory
        parsed = asyncio.run(library_round(replaying(recording.pages), settings, connected))
        requests = sum(delta(before, between, name, "requests") for name in fakes)
        in_round = {
            name: {key: delta(before, between, name, key) for key in between[name]}
            for name in fakes
        }
        complete = print_networks(done.by_network, counts, args.likes, in_round)
        if "x" in counts:
            x = done.by_network.get("x", PerNetwork())
            print(
                f"  X request budget ([bridges.x] monthly_requests): {x.requests} of "
                f"{args.x_budget} used by the round (the fake counted "
                f"{in_round['x']['requests']} requests; the library baseline "
                f"{delta(between, after, 'x', 'requests')} more, outside the budget)"
            )
        print(
            f"  library alone, over HTTP, no database   {fetched.seconds:7.2f} s  "
            f"{fetched.likes / fetched.seconds:9.0f} likes/s  "
            f"({fetched.requests} requests, {fetched.likes:,} likes; fakes counted "
            f"{sum(delta(between, after, name, 'requests') for name in fakes)}"
            + (f"; {fetched.limited} accounts cut short by a 429" if fetched.limited else "")
            + ")"
        )
        print(f"    by network: {_seconds(fetched.seconds_by_network)}")
        print(
            f"  library alone, pages from memory        {parsed.seconds:7.2f} s  "
            f"{parsed.likes / parsed.seconds:9.0f} likes/s  ({parsed.requests} pages)"
        )
        print(f"    by network: {_seconds(parsed.seconds_by_network)}")
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
        over = sum(figures["over_limit"] for figures in after.values())
        complete = (
            complete
            and done.counted == expected
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
            f"one round of {args.accounts} accounts x {args.likes} likes on {len(counts)} "
            f"networks: {done.seconds:.1f} s (target < {TARGET_SECONDS:.0f} s), "
            f"{done.counted / done.seconds:.0f} likes/s, over_limit {over} (target 0), every "
            f"like a click: {'yes' if complete else 'NO'}: {'MET' if ok else 'NOT MET'}"
        )
        if profile is not None:
            print(_profile_text(profile))
        return ok
    finally:
        stop(fakes)
        if args.postgres:
            drop_database(args.postgres, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--likes", type=int, default=50)
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default="all",
        help="the share of accounts on each network: all (the default), classic (Mastodon "
        "0.7, Bluesky 0.3, the run before the other networks) or name=share,…",
    )
    parser.add_argument("--workers", type=int, default=1, help="workers in the process")
    parser.add_argument("--mastodon-limit", type=int, default=MASTODON_LIMIT[0])
    parser.add_argument("--bluesky-limit", type=int, default=BLUESKY_LIMIT[0])
    parser.add_argument("--x-budget", type=int, default=X_BUDGET, help="X's monthly_requests")
    parser.add_argument("--profile", action="store_true", help="cProfile the round")
    parser.add_argument("--statements", type=int, default=0, help="show the N most sent SQL")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        return 0 if run(args, Path(tmp)) else 1


if __name__ == "__main__":
    sys.exit(main())
