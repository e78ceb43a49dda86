"""benchmarks/bridges.py's fakes: each network's fake (tests/support/fakes/) in a process of its
own on a loopback port, filled before it serves, with the rate limit its network documents.

Every fake account has `likes` likes, of works by `AUTHORS` creators of that network. A fake
with a like clock of its own (GitHub, Vimeo and YouTube step a minute a like, Flickr and Tumblr
take the time given) has its likes placed in the running month, up to now where the month
has room (else on into it): a like from before the month would be counted as before the
period, not as a click. Bluesky's likes are made now; Mastodon, SoundCloud, X and Dailymotion
keep no like time (the server takes the time it first sees a like).

Before serving, the process writes what a connection would store for each account to a JSON
file: its id and handle on the network, and its credentials (an OAuth 2 token answer of the
fake's provider, `OAuth2Provider.issue`, without the pages; Flickr's OAuth 1.0a token and
secret; Mastodon's token; Bluesky's DID and PDS). The parent reads them with `read_accounts`,
which turns a token answer into `Credentials` as the network's own `credentials_from` does.

    .venv/bin/python benchmarks/bridges_fakes.py --serve github --port 8123 --accounts 70 \
        --likes 50 --out /tmp/github.json   (benchmarks/bridges.py starts them so)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridges.base import Credentials, NetworkConfig  # noqa: E402
from bridges.oauth2 import OAuth2Network  # noqa: E402
from bridges.registry import NETWORKS  # noqa: E402

AUTHORS = 500  # creators per network whose works the accounts liked
MASTODON_LIMIT = (300, 300.0)  # requests per token, per 5 minutes (Mastodon's default)
BLUESKY_LIMIT = (3000, 300.0)  # requests for all callers, per 5 minutes (a PDS's per-IP limit)
X_BUDGET = 100_000  # [bridges.x] monthly_requests: far above one round's reads

# --- like times in the running month ---------------------------------------------------------


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def clock_start(now: datetime, steps: int, step: timedelta = timedelta(minutes=1)) -> datetime:
    """Where a clock that steps `steps` times must start for its last step to be now, but
    not before the running month began (early in a month the steps run on past now)."""
    return max(month_start(now) + step, now - step * (steps + 1))


# --- filling each fake ------------------------------------------------------------------------


@dataclass
class Filled:
    """A filled fake: its Starlette app, and each account as a connection stores it."""

    app: Any
    accounts: list[dict[str, Any]] = field(default_factory=list)


def account(external_id: str, handle: str, **credentials: Any) -> dict[str, Any]:
    return {"external_id": external_id, "handle": handle, **credentials}


def fill_fediverse(host: str, accounts: int, likes: int, limit: int) -> Filled:
    from tests.support.fakes.mastodon_api import FakeMastodonApi, Knobs

    knobs = Knobs(rate_limit=limit, rate_window=MASTODON_LIMIT[1], hostile_html=False)
    fake = FakeMastodonApi(host=host, knobs=knobs)
    filled = Filled(fake.app())
    for n in range(accounts):
        for k in range(likes):
            author = (n * likes + k) % AUTHORS
            fake.favourite(f"m{n}", author=f"c{author}@remote{author % 5}.example")
        token = fake.issue_token(f"m{n}")
        filled.accounts.append(
            account(
                f"{fake.base}/users/m{n}",
                f"@m{n}@{host}",
                access_token=token,
                extra={"base_url": fake.base},
            )
        )
    return filled


def fill_bluesky(host: str, accounts: int, likes: int, limit: int) -> Filled:
    from tests.support.fakes.bluesky import FakeBluesky, Knobs

    fake = FakeBluesky(host=host, knobs=Knobs(rate_limit=limit, rate_window=BLUESKY_LIMIT[1]))
    filled = Filled(fake.app())
    authors = [fake.add_account(f"author{a}.test") for a in range(AUTHORS)]
    for n in range(accounts):
        did = fake.add_account(f"b{n}.test")
        for k in range(likes):
            author = authors[(n * likes + k) % AUTHORS]
            fake.like(did, subject=fake.post(author, f"post {n}-{k}"))
        filled.accounts.append(account(did, f"b{n}.test", extra={"did": did, "pds": fake.base}))
    fake.events.clear()  # Jetstream's replay log: nobody subscribes here
    return filled


def fill_flickr(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.flickr import AccessToken, FakeFlickr

    fake = FakeFlickr(host=host)
    filled = Filled(fake.app())
    first = int(clock_start(now, likes).timestamp())
    for n in range(accounts):
        user = f"f{n}"
        nsid = fake.add_user(user)
        for k in range(likes):
            author = (n * likes + k) % AUTHORS
            fake.fave(user, owner=f"creator{author}", date=first + 60 * k)
        token, secret = secrets.token_hex(16), secrets.token_hex(8)
        fake.access_tokens[token] = AccessToken(secret, user)
        filled.accounts.append(
            account(nsid, user, access_token=token, extra={"token_secret": secret, "nsid": nsid})
        )
    return filled


def fill_soundcloud(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.soundcloud import FakeSoundCloud

    fake = FakeSoundCloud(host=host)
    filled = Filled(fake.app())
    for n in range(accounts):
        user = f"s{n}"
        user_id = fake.add_user(user)
        for k in range(likes):
            fake.like(user, author=f"creator-{(n * likes + k) % AUTHORS}")
        filled.accounts.append(
            account(f"soundcloud:users:{user_id}", user, token=fake.provider.issue(user))
        )
    return filled


def fill_vimeo(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.vimeo import FakeVimeo

    fake = FakeVimeo(host=host, _clock=clock_start(now, accounts * likes))
    filled = Filled(fake.app())
    for n in range(accounts):
        user = f"v{n}"
        user_id = fake.add_user(user)
        for k in range(likes):
            fake.like(user, owner=f"creator{(n * likes + k) % AUTHORS}")
        scope = "public private"
        filled.accounts.append(account(str(user_id), user, token=fake.provider.issue(user, scope)))
    return filled


def fill_x(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.x import FakeX

    fake = FakeX(host=host)
    filled = Filled(fake.app())
    for n in range(accounts):
        user = f"x{n}"
        user_id = str(fake.add_account(user))
        for k in range(likes):
            fake.like(user, author=f"creator{(n * likes + k) % AUTHORS}")
        scope = "tweet.read users.read like.read offline.access"
        filled.accounts.append(
            account(
                user_id,
                f"@{user}",
                token=fake.provider.issue(user, scope),
                extra={"user_id": user_id},
            )
        )
    return filled


def fill_github(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.github import FakeGitHub

    fake = FakeGitHub(host=host, _clock=clock_start(now, accounts * likes))
    filled = Filled(fake.app())
    for n in range(accounts):
        user = f"g{n}"
        user_id = fake.add_account(user).id
        for k in range(likes):
            fake.star(user, owner=f"creator{(n * likes + k) % AUTHORS}")
        filled.accounts.append(
            account(str(user_id), user, token=fake.provider.issue(user, "read:user"))
        )
    return filled


def fill_youtube(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes import youtube
    from tests.support.fakes.youtube import FakeYoutube, made_id

    # The fake's like clock: START plus a minute for each account and like it made
    youtube.START = clock_start(now, accounts * (likes + 1) + 1)
    fake = FakeYoutube(host=host)
    filled = Filled(fake.app())
    owners = [made_id("UC", 600_000 + a, 24) for a in range(AUTHORS)]
    for n in range(accounts):
        user = f"y{n}"
        channel = fake.add_account(user)
        for k in range(likes):
            fake.like(user, owner=owners[(n * likes + k) % AUTHORS])
        scope = "https://www.googleapis.com/auth/youtube.readonly"
        extra = {"likes_playlist": "LL", "channel_id": channel}
        filled.accounts.append(
            account(channel, user, token=fake.provider.issue(user, scope), extra=extra)
        )
    return filled


def fill_tumblr(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.tumblr import FakeTumblr, blog_uuid

    fake = FakeTumblr(host=host)
    filled = Filled(fake.app())
    first = int(clock_start(now, likes).timestamp())
    for n in range(accounts):
        user = f"t{n}"
        fake.add_account(user)
        for k in range(likes):
            blog = f"creator-{(n * likes + k) % AUTHORS}"
            fake.like(user, blog=blog, at=first + 60 * k)
        token = fake.provider.issue(user, "basic offline_access")
        filled.accounts.append(account(blog_uuid(user), user, token=token))
    return filled


def fill_dailymotion(host: str, accounts: int, likes: int, now: datetime) -> Filled:
    from tests.support.fakes.dailymotion import FakeDailymotion

    fake = FakeDailymotion(host=host)
    filled = Filled(fake.app())
    for n in range(accounts):
        user = f"d{n}"
        user_id = fake.add_user(user)
        for k in range(likes):
            fake.like(user, owner=f"creator{(n * likes + k) % AUTHORS}")
        filled.accounts.append(account(user_id, user, token=fake.provider.issue(user)))
    return filled


Fill = Callable[[str, int, int, datetime], Filled]
FILLS: dict[str, Fill] = {
    "flickr": fill_flickr,
    "soundcloud": fill_soundcloud,
    "vimeo": fill_vimeo,
    "x": fill_x,
    "github": fill_github,
    "youtube": fill_youtube,
    "tumblr": fill_tumblr,
    "dailymotion": fill_dailymotion,
}


def serve(name: str, port: int, accounts: int, likes: int, limit: int, out: Path) -> None:
    """Fill `name`'s fake, write its accounts to `out`, then serve it on 127.0.0.1:`port`."""
    import uvicorn

    host = f"127.0.0.1:{port}"
    if name == "fediverse":
        filled = fill_fediverse(host, accounts, likes, limit or MASTODON_LIMIT[0])
    elif name == "bluesky":
        filled = fill_bluesky(host, accounts, likes, limit or BLUESKY_LIMIT[0])
    else:
        filled = FILLS[name](host, accounts, likes, datetime.now(UTC).replace(microsecond=0))
    written = out.with_suffix(".part")
    written.write_text(json.dumps(filled.accounts))
    written.replace(out)
    uvicorn.run(filled.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the parent's side ------------------------------------------------------------------------


@dataclass
class Fake:
    name: str
    base: str
    out: Path
    process: subprocess.Popen[bytes]

    def stats(self) -> dict[str, int]:
        answer: dict[str, int] = httpx.get(f"{self.base}/_test/stats", timeout=10).json()
        return answer


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    counts: Mapping[str, int], likes: int, limits: Mapping[str, int], workdir: Path
) -> dict[str, Fake]:
    """Every network of `counts` in a process of its own, all filling at once; returns once
    each serves (its log: workdir/fake-<name>.log)."""
    here = str(Path(__file__).resolve())
    started: dict[str, Fake] = {}
    try:
        for name, accounts in counts.items():
            port = free_port()
            out = workdir / f"accounts-{name}.json"
            command = [here, "--serve", name, "--port", str(port), "--accounts", str(accounts)]
            command += ["--likes", str(likes), "--limit", str(limits.get(name, 0))]
            command += ["--out", str(out)]
            with (workdir / f"fake-{name}.log").open("wb") as log:
                process = subprocess.Popen(
                    [sys.executable, *command],
                    cwd=ROOT,
                    env=dict(os.environ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started[name] = Fake(name, f"http://127.0.0.1:{port}", out, process)
        filling = max(120.0, sum(counts.values()) * likes / 100)
        deadline = time.monotonic() + filling
        for fake in started.values():
            _wait_up(fake, deadline, workdir)
    except BaseException:
        stop(started)
        raise
    return started


def _wait_up(fake: Fake, deadline: float, workdir: Path) -> None:
    while time.monotonic() < deadline:
        if fake.process.poll() is not None:
            log = (workdir / f"fake-{fake.name}.log").read_text()[-2000:]
            raise RuntimeError(f"the {fake.name} fake stopped: {log}")
        try:
            httpx.get(f"{fake.base}/_test/stats", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the {fake.name} fake did not come up at {fake.base}")


def stop(fakes: Mapping[str, Fake]) -> None:
    for fake in fakes.values():
        fake.process.terminate()
    for fake in fakes.values():
        try:
            fake.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fake.process.kill()
            fake.process.wait(timeout=20)


def read_accounts(fake: Fake) -> list[tuple[str, str, Credentials]]:
    """(external id, handle, credentials) of each account the fake wrote."""
    made: list[tuple[str, str, Credentials]] = []
    client = httpx.AsyncClient()  # never used: `credentials_from` sends nothing
    try:
        network = NETWORKS[fake.name](client, NetworkConfig())
        for one in json.loads(fake.out.read_text()):
            extra = {str(k): str(v) for k, v in one.get("extra", {}).items()}
            if isinstance(network, OAuth2Network):
                credentials = network.credentials_from(one["token"], extra)
            else:
                credentials = Credentials(one.get("access_token", ""), extra=extra)
            made.append((str(one["external_id"]), str(one["handle"]), credentials))
    finally:
        asyncio.run(client.aclose())
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--serve", choices=tuple(NETWORKS), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--likes", type=int, required=True)
    parser.add_argument("--limit", type=int, default=0, help="Mastodon's or Bluesky's limit")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    serve(args.serve, args.port, args.accounts, args.likes, args.limit, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
