"""Which tests are `live`: every test that starts processes (a `likewise serve` instance, a
long-running command it kills, Chromium) does it through a fixture named in LIVE_FIXTURES,
and tests/conftest.py marks each test using one of them `live` at collection. A test that
starts an instance or a process some other way is caught twice: at collection, if its own
code names LiveInstance or Popen; at run time, when `require_live` finds the running test
is not `live` (a helper it calls started the process)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Any

# The fixtures that start processes: `instances` (tests/conftest.py), `processes` (below),
# `page` (headless Chromium; it also makes a test `browser`).
LIVE_FIXTURES = frozenset({"instances", "processes", "page"})
# Names a test's own code uses to start a process without one of those fixtures.
PROCESS_NAMES = frozenset({"LiveInstance", "Popen"})

# Whether the running test is live: None outside pytest (benchmarks start instances too).
_running_live: bool | None = None


def running_test(live: bool | None) -> None:
    global _running_live
    _running_live = live


def require_live(what: str) -> None:
    """Refuse to start `what` inside a test that is not marked `live`."""
    if _running_live is False:
        raise RuntimeError(
            f"{what} starts a process in a test that is not live: take it through a fixture "
            f"of {sorted(LIVE_FIXTURES)} (tests/support/processes.py)"
        )


def starts_processes_itself(function: Callable[..., Any]) -> bool:
    """Whether a test function's own code names a way to start a process."""
    code = getattr(function, "__code__", None)
    return code is not None and not PROCESS_NAMES.isdisjoint(code.co_names)


class Processes:
    """Long-running commands a test starts (and may kill); those left are killed after it."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        require_live(" ".join(args))
        process = subprocess.Popen(args, **kwargs)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
