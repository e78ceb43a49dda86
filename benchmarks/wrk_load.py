"""Load from wrk (a C load generator, Debian's `wrk`) and the server's own CPU time.

The Python load generator of client_api.py is itself a Python process on the same two
CPUs: against the bare app it, not the server, sets the pace, and its own scheduling lands
in every latency it reports. wrk costs little, so the server gets a CPU of its own and the
latencies are the server's. The server's CPU seconds per request (from /proc) hold steady
whatever else the machine runs, where requests per second do not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Each request favourites the next status: wrk's Lua hook names the path.
DISTINCT_POSTS = """
counter = {start}
request = function()
  counter = counter + 1
  return wrk.format("POST", string.format("{template}", counter))
end
"""


@dataclass(frozen=True)
class WrkResult:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms: float | None  # the server's CPU time per request

    def line(self) -> str:
        cpu = "" if self.cpu_ms is None else f"   server CPU {self.cpu_ms:5.2f} ms/request"
        return (
            f"  {self.name:<28} {self.rate:8.0f} req/s   p50 {self.p50_ms:6.1f} ms"
            f"   p99 {self.p99_ms:6.1f} ms   non-2xx {self.errors}{cpu}"
        )


def available() -> bool:
    return shutil.which("wrk") is not None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, with its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run(
    name: str,
    url: str,
    *,
    seconds: int,
    connections: int,
    headers: dict[str, str],
    pid: int | None = None,
    posts: tuple[str, int] | None = None,
    workdir: Path | None = None,
) -> WrkResult:
    """`posts`: (a path with %d, n): POSTs to it with n + 1, n + 2, … (distinct statuses)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    if posts is not None and workdir is not None:
        script = workdir / "distinct_posts.lua"
        template, start = posts
        script.write_text(
            DISTINCT_POSTS.replace("{template}", template).replace("{start}", str(start))
        )
        command += ["-s", str(script)]
    before = cpu_seconds(pid) if pid else None
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    after = cpu_seconds(pid) if pid else None
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(found.group(1)) if found else 0
    cpu = (
        None
        if before is None or after is None or not requests
        else (after - before) * 1000 / requests
    )
    return WrkResult(name, rate, p50, p99, requests, errors, cpu)
