"""Real Likewise instances: `likewise serve` as its own process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import require_live


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveInstance:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    scheme: str = "http"
    process: subprocess.Popen[bytes] | None = None

    @property
    def domain(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
        env.update(
            LIKEWISE_DOMAIN=self.domain,
            LIKEWISE_DATABASE_URL=self.database_url,
            LIKEWISE_DEV="1",
        )
        env.update(self.env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a `likewise` subcommand against this instance's data and database."""
        command = [sys.executable, "-m", "server.cli", *args, "--data", str(self.data_dir)]
        return subprocess.run(
            command,
            env=self.environment(),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self, verify: str | bool = False, timeout: float = 40.0) -> LiveInstance:
        trust: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        )
        command = [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
            *self.args,
        ]
        require_live(f"likewise serve on {self.base_url}")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"instance exited early:\n{self.read_log()}")
            try:
                if (
                    httpx.get(f"{self.base_url}/healthz", timeout=1.0, verify=trust).status_code
                    == 200
                ):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"instance did not become healthy:\n{self.read_log()}")

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
