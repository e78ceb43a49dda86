"""Signed Like deliveries per second accepted by the shared inbox, against a bare ceiling.

One Likewise instance (`likewise serve`: uvicorn, one worker, SQLite) receives pre-signed
Mastodon-shaped Likes from 100 remote actors (served by a small actor server) at
concurrency 16 and 64. The ceiling is a bare Starlette endpoint that parses the same
JSON body and answers 202, run the same way and loaded with the same requests in the
same run. Each Like is durably stored (group commit) before its 202; afterwards every
accepted Like must be processed exactly once within 10 s.

    .venv/bin/python benchmarks/inbox.py [--requests 12000] [--actors 100] [--notes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.30
PROCESS_DEADLINE = 10.0
CONCURRENCIES = (16, 64)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- helper servers (run as subprocesses of this script) ---------------------------


def serve_ceiling(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def inbox(request: Request) -> Response:
        json.loads(await request.body())
        return Response(status_code=202)

    app = Starlette(routes=[Route("/inbox", inbox, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_actors(port: int, public_pem: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def actor(request: Request) -> Response:
        uri = f"http://127.0.0.1:{port}/actors/{request.path_params['n']}"
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": uri,
            "type": "Person",
            "preferredUsername": f"fan{request.path_params['n']}",
            "inbox": f"{uri}/inbox",
            "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": public_pem},
        }
        return JSONResponse(document, media_type="application/activity+json")

    async def inbox(request: Request) -> Response:
        return Response(status_code=202)

    app = Starlette(
        routes=[
            Route("/actors/{n}", actor),
            Route("/actors/{n}/inbox", inbox, methods=["POST"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_up(url: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


# --- load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    name: str
    concurrency: int
    accepted: int
    other: int
    seconds: float
    latencies: list[float]
    cpu: tuple[float, float] | None = None  # server CPU seconds: main thread, whole process

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(int(len(ordered) * p), len(ordered) - 1)] * 1000


def build_requests(host: str, likes: list[tuple[bytes, dict[str, str]]]) -> list[bytes]:
    raw = []
    for body, headers in likes:
        lines = [b"POST /inbox HTTP/1.1", f"Host: {host}".encode()]
        lines += [f"{k}: {v}".encode() for k, v in headers.items() if k.lower() != "host"]
        lines.append(f"Content-Length: {len(body)}".encode())
        raw.append(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    return raw


async def _connection(
    port: int, queue: list[bytes], latencies: list[float], counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            request = queue.pop()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            counts[0 if head.startswith(b"HTTP/1.1 202") else 1] += 1
    finally:
        writer.close()


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """CPU time of a process's main thread and of all its threads (Linux /proc), or None."""
    tick = os.sysconf("SC_CLK_TCK")
    main, total = 0.0, 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            total += used
            main += used if task.name == str(pid) else 0.0
    except (OSError, IndexError, ValueError):
        return None
    return main, total


async def load(
    name: str, port: int, requests: list[bytes], concurrency: int, pid: int | None = None
) -> Result:
    queue = list(reversed(requests))
    latencies: list[float] = []
    counts = [0, 0]
    before = cpu_seconds(pid) if pid else None
    start = time.perf_counter()
    await asyncio.gather(*(_connection(port, queue, latencies, counts) for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    after = cpu_seconds(pid) if pid else None
    cpu = None
    if before is not None and after is not None:
        cpu = (after[0] - before[0], after[1] - before[1])
    return Result(name, concurrency, counts[0], counts[1], seconds, latencies, cpu)


# --- setup --------------------------------------------------------------------------


def sign_likes(
    actor_port: int, notes: list[str], first: int, count: int, actors: int, inbox: str
) -> list[tuple[bytes, dict[str, str]]]:
    from activitypub.signatures import sign_request

    pem = (ROOT / "tests/data/ap_rsa_private.pem").read_text()
    signed = []
    for n in range(first, first + count):
        actor = f"http://127.0.0.1:{actor_port}/actors/{n % actors}"
        like = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{actor}#likes/{n}",
            "type": "Like",
            "actor": actor,
            "object": notes[(n // actors) % len(notes)],
        }
        body = json.dumps(like).encode()
        headers = sign_request(
            "POST",
            inbox,
            {"Content-Type": "application/activity+json"},
            body,
            f"{actor}#main-key",
            pem,
        )
        signed.append((body, headers))
    return signed


def _cli(env: dict[str, str], data: Path, *args: str) -> str:
    command = [sys.executable, "-m", "server.cli", *args, "--data", str(data)]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_notes(base: str, env: dict[str, str], data: Path, count: int) -> list[str]:
    _cli(
        env,
        data,
        "users",
        "create",
        "creator",
        "--email",
        "c@example.org",
        "--password",
        "pw-123456",
    )
    token = _cli(env, data, "tokens", "create", "creator")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        return [
            http.post("/api/v1/statuses", json={"status": f"post {i}"}).json()["uri"]
            for i in range(count)
        ]


def processing_state(database: Path) -> tuple[int, int, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        total, pending = db.execute(
            "SELECT count(*), coalesce(sum(state = 'pending'), 0) FROM inbox_item"
        ).fetchone()
        (likes,) = db.execute("SELECT count(*) FROM note_like").fetchone()
    return int(total), int(pending), int(likes)


def report(result: Result, ceiling: Result | None = None) -> None:
    line = (
        f"{result.name:<9} c={result.concurrency:<3} {result.rate:8.0f} req/s  "
        f"p50 {result.percentile(0.5):6.2f} ms  p99 {result.percentile(0.99):6.2f} ms  "
        f"(202: {result.accepted}, other: {result.other})"
    )
    if result.cpu is not None:
        served = result.accepted + result.other
        line += (
            f"  cpu/req {result.cpu[0] / served * 1e6:4.0f} µs main, "
            f"{result.cpu[1] / served * 1e6:4.0f} µs all"
        )
    if ceiling is not None:
        line += f"  ratio {result.rate / ceiling.rate:.2f} of ceiling"
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=12000)
    parser.add_argument("--actors", type=int, default=100)
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--serve-ceiling", type=int)
    parser.add_argument("--serve-actors", type=int)
    args = parser.parse_args()
    if args.serve_ceiling:
        serve_ceiling(args.serve_ceiling)
        return 0
    if args.serve_actors:
        serve_actors(args.serve_actors, (ROOT / "tests/data/ap_rsa_public.pem").read_text())
        return 0
    return run(args.requests, args.actors, args.notes)


@dataclass(frozen=True)
class Setup:
    ports: dict[str, int]
    data: Path
    env: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)  # filled by start_servers


def start_servers(setup: Setup) -> list[subprocess.Popen[bytes]]:
    here, ports = str(Path(__file__).resolve()), setup.ports
    serve = ["-m", "server.cli", "serve", "--port", str(ports["instance"])]
    named = {
        "ceiling": _spawn([here, "--serve-ceiling", str(ports["ceiling"])]),
        "actors": _spawn([here, "--serve-actors", str(ports["actors"])]),
        "instance": _spawn([*serve, "--data", str(setup.data)], setup.env),
    }
    setup.pids.update({name: process.pid for name, process in named.items()})
    processes = list(named.values())
    _wait_up(f"http://127.0.0.1:{ports['instance']}/healthz")
    _wait_up(f"http://127.0.0.1:{ports['actors']}/actors/0")
    return processes


def measure(setup: Setup, requests: int, actors: int, notes_count: int) -> tuple[bool, int]:
    """Both concurrencies against ceiling and instance; (target met, Likes accepted)."""
    port, actor_port = setup.ports["instance"], setup.ports["actors"]
    host = f"127.0.0.1:{port}"
    notes = make_notes(f"http://{host}", setup.env, setup.data, notes_count)
    inbox = f"http://{host}/inbox"
    print(f"signing {actors + 2 * requests} Likes...", flush=True)
    warm = build_requests(host, sign_likes(actor_port, notes, 0, actors, actors, inbox))
    phases = [
        build_requests(
            host, sign_likes(actor_port, notes, actors + i * requests, requests, actors, inbox)
        )
        for i in range(len(CONCURRENCIES))
    ]
    asyncio.run(load("warmup", port, warm, 8))  # the instance fetches the actors' keys
    accepted, ok = actors, True
    for concurrency, batch in zip(CONCURRENCIES, phases, strict=True):
        ceiling_port, pids = setup.ports["ceiling"], setup.pids
        ceiling = asyncio.run(
            load("ceiling", ceiling_port, batch, concurrency, pids.get("ceiling"))
        )
        report(ceiling)
        measured = asyncio.run(load("likewise", port, batch, concurrency, pids.get("instance")))
        report(measured, ceiling)
        accepted += measured.accepted
        ok = ok and measured.rate >= TARGET_RATIO * ceiling.rate
    return ok, accepted


def await_processing(database: Path, accepted: int) -> bool:
    ended = time.monotonic()
    while True:
        total, pending, likes = processing_state(database)
        if pending == 0 or time.monotonic() - ended > PROCESS_DEADLINE + 5:
            break
        time.sleep(0.1)
    took = time.monotonic() - ended
    print(
        f"processed: {total - pending} of {total} stored ({accepted} accepted), "
        f"{likes} distinct (actor, note) likes recorded, {took:.1f} s after the load ended",
        flush=True,
    )
    return total == accepted and pending == 0 and took <= PROCESS_DEADLINE


def run(requests: int, actors: int, notes_count: int) -> int:
    ports = {name: free_port() for name in ("instance", "ceiling", "actors")}
    data = Path(tempfile.mkdtemp(prefix="likewise-bench-"))
    env = {
        "LIKEWISE_DOMAIN": f"127.0.0.1:{ports['instance']}",
        "LIKEWISE_DEV": "1",
        "LIKEWISE_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'likewise.db'}",
    }
    setup = Setup(ports, data, env)
    processes = start_servers(setup)
    try:
        ok, accepted = measure(setup, requests, actors, notes_count)
        exact = await_processing(data / "likewise.db", accepted)
        print(
            f"target >= {TARGET_RATIO:.0%} of ceiling: {'met' if ok else 'NOT met'}; "
            f"exactly-once within {PROCESS_DEADLINE:.0f} s: {'yes' if exact else 'NO'}"
        )
        return 0 if ok and exact else 1
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, 15)
                process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


if __name__ == "__main__":
    sys.exit(main())
