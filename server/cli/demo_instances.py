"""The two instances of `likewise demo`: `likewise serve` processes on loopback ports, driven
as their admins and users drive them (the `likewise` commands, the HTTP API, the log-in form)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import tomli_w

from server.db.engine import Database
from server.settings import CONFIG_FILE, Settings, load_settings

T = TypeVar("T")
HOST = "127.0.0.1"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class DemoError(Exception):
    """A step of the demo did not do what it should; the message says which and why."""


# Set when the demo stops early (Ctrl-C, a failed step): commands not yet begun are skipped.
STOPPING = threading.Event()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    """Poll `check` until it returns something true; DemoError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise DemoError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


@dataclass(eq=False)
class User:
    """An account and its browser: a cookie session, and the CSRF token its pages carry."""

    username: str
    role: str  # "admin", "donor", "creator"
    base_url: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    csrf: str = ""
    browser: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.browser = httpx.Client(base_url=self.base_url, timeout=60)

    def submit(self, path: str, form: dict[str, str]) -> httpx.Response:
        """Open the page at `path`, then send its form with `form`'s fields, as a browser."""
        page = self.browser.get(path)
        found = CSRF_INPUT.search(page.text)
        if found is None:
            raise DemoError(f"{self.base_url}{path} has no form to send")
        return self.browser.post(path, data={**form, "csrf_token": found.group(1)})

    def log_in(self) -> None:
        """The log-in form (sign-up logs in too); then the session's CSRF token for the API."""
        if not self.csrf:
            answer = self.submit("/login", {"login": self.username, "password": self.password})
            if answer.status_code != 303:
                raise DemoError(f"@{self.username} could not log in: {answer.status_code}")
            self.remember_csrf()

    def remember_csrf(self) -> None:
        found = CSRF_INPUT.search(self.browser.get("/account").text)
        if found is None:
            raise DemoError(f"{self.base_url}/account shows @{self.username} no form")
        self.csrf = found.group(1)


@dataclass(eq=False)  # each instance is itself: a key in a dict of who lives where
class DemoInstance:
    """One instance: its data directory holds config.toml, the SQLite database and keys."""

    label: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    users: dict[str, User] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def domain(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.label}.log"

    def configure(self) -> None:
        """Write config.toml as an admin would. Dev mode is set explicitly: it is what lets two
        instances federate over http on 127.0.0.1 (production refuses loopback peers)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "domain": self.domain,
            "dev": True,
            "name": f"Likewise demo {self.label}",
            "description": f"The {self.label} instance of `likewise demo`.",
        }
        path = self.data_dir / CONFIG_FILE
        path.write_text(tomli_w.dumps(config))
        path.chmod(0o600)

    def environment(self) -> dict[str, str]:
        """The caller's environment without LIKEWISE_* variables: config.toml says it all."""
        return {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}

    def cli(self, *args: str) -> str:
        """Run `likewise ARGS --data DIR` for this instance; its stdout, or DemoError."""
        if STOPPING.is_set():
            raise DemoError("stopping")
        command = [sys.executable, "-m", "server.cli", *args, "--data", str(self.data_dir)]
        try:
            done = subprocess.run(
                command,
                env=self.environment(),
                capture_output=True,
                text=True,
                timeout=180,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise DemoError(f"`likewise {args[0]} {args[1]}` on {self.label} hung") from exc
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip()).splitlines()
            shown = " ".join(args[:3])
            raise DemoError(
                f"`likewise {shown}` on {self.label} failed: {said[-1] if said else 'no output'}"
            )
        return done.stdout

    def start(self) -> None:
        log = self.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
        ]
        self.process = subprocess.Popen(
            command,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches the demo, which stops it
        )
        log.close()

    def wait_healthy(self, timeout: float = 90.0) -> None:
        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise DemoError(f"{self.label} exited early; its log: {self.log_path}")
            try:
                return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(f"{self.label} to answer /healthz", healthy, timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def add_admin(self, username: str) -> User:
        """`likewise users create --admin`, as the instance's admin starts."""
        user = User(username, "admin", self.base_url)
        email = f"{username}@{self.label}.invalid"
        self.cli(
            "users", "create", username, "--email", email, "--password", user.password, "--admin"
        )
        self.users[username] = user
        return user

    def sign_up(self, username: str, role: str) -> User:
        """The sign-up form, as a new donor or creator fills it in (it logs them in)."""
        user = User(username, role, self.base_url)
        form = {
            "username": username,
            "display_name": username.capitalize(),
            "email": f"{username}@{self.label}.invalid",
            "password": user.password,
        }
        answer = user.submit("/signup", form)
        if answer.status_code != 303:
            raise DemoError(f"signing up @{username} on {self.label}: {answer.status_code}")
        user.remember_csrf()
        self.users[username] = user
        return user

    def api(self, method: str, path: str, user: User, body: Any = None) -> Any:
        """A client API call from `user`'s browser session; its JSON, or DemoError."""
        user.log_in()
        try:
            answer = user.browser.request(
                method, path, json=body, headers={"X-CSRF-Token": user.csrf}
            )
        except httpx.HTTPError as exc:
            raise DemoError(f"{method} {path} on {self.label}: {exc}") from exc
        if answer.status_code >= 300:
            raise DemoError(
                f"{method} {path} on {self.label} as @{user.username}: "
                f"{answer.status_code} {answer.text[:300]}"
            )
        return answer.json()

    def read(self, work: Callable[[Database, Settings], Awaitable[T]]) -> T:
        """Read this instance's database with its own settings (config.toml only)."""
        settings = load_settings(self.data_dir, environ={})

        async def run() -> T:
            db = Database(settings.database_url)
            try:
                return await work(db, settings)
            finally:
                await db.dispose()

        return asyncio.run(run())

    def pages_answer(self, user: User | None, paths: list[str]) -> list[str]:
        """Open each path as `user` (logged in) or a visitor (None); what did not answer 200."""
        problems: list[str] = []
        with httpx.Client(base_url=self.base_url, timeout=30) as visitor:
            if user is not None:
                user.log_in()
            browser = user.browser if user is not None else visitor
            for path in paths:
                status = browser.get(path).status_code
                if status != 200:
                    who = f"@{user.username}" if user else "a visitor"
                    problems.append(f"{self.base_url}{path} answered {status} to {who}")
        return problems

    def close_browsers(self) -> None:
        for user in self.users.values():
            user.browser.close()
