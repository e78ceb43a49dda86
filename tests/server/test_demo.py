"""`likewise demo` as someone trying Likewise runs it: a real process that starts two
instances, runs the month's loop between them, prints pages and log-ins, and cleans up.

Both tests are `live` (the `processes` fixture) and run once, on SQLite only: the demo makes
its instances the way `likewise serve` does by default, each with a SQLite file in its own
data directory, and ignores LIKEWISE_TEST_DATABASE_URL (it drops every LIKEWISE_ variable).
The same loop on PostgreSQL is tests/settlement/test_settlement_live.py's."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.accounts import csrf_from
from tests.support.processes import Processes

PAGE_LINE = re.compile(r"^  (alpha|beta) +(.+?) +(http://127\.0\.0\.1:\d+/\S*)  \((.+)\)$", re.M)
LOGIN_LINE = re.compile(r"^  (alpha|beta) +(admin|donor|creator) +(\w+) +(\S+)$", re.M)
KINDS = {
    "donor dashboard",
    "creator page",
    "a post",
    "admin money",
    "admin peers",
    "peer statement",
}


def _demo(processes: Processes, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`likewise demo ARGS` with its temporary directory under tmp_path/tmp; output in a file."""
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    env["TMPDIR"] = str(tmp_path / "tmp")
    output = tmp_path / "demo.out"
    with output.open("wb") as sink:
        process = processes.start(
            [sys.executable, "-m", "server.cli", "demo", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    return process, output


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Ctrl-C, as a person stops it (so that it stops its instances), then its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    return process.wait(timeout=120)


def _wait_for(output: Path, text: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        said = output.read_text(errors="replace")
        if text in said:
            return said
        assert process.poll() is None, said
        time.sleep(1)
    raise AssertionError(f"no {text!r} in time:\n{output.read_text(errors='replace')}")


def test_demo_check_runs_the_whole_loop_and_leaves_nothing(
    processes: Processes, tmp_path: Path
) -> None:
    process, output = _demo(processes, tmp_path, "--check")
    try:
        status = process.wait(timeout=900)
    finally:
        _stop(process)
    said = output.read_text(errors="replace")
    assert status == 0, said
    assert "demo check passed" in said
    for step in ("alpha owes beta 9.00 EUR", "payment 1 confirmed: 9.00 EUR", "ledger OK"):
        assert step in said
    pages = PAGE_LINE.findall(said)
    assert {kind for _, kind, _, _ in pages} == KINDS
    assert {instance for instance, _, _, _ in pages} == {"alpha", "beta"}
    assert len(LOGIN_LINE.findall(said)) == 7
    assert "Traceback" not in said
    assert list((tmp_path / "tmp").iterdir()) == []  # its temporary directory is gone


def test_demo_serves_the_printed_pages_until_ctrl_c(processes: Processes, tmp_path: Path) -> None:
    process, output = _demo(processes, tmp_path, "--data", str(tmp_path / "demo"))
    try:
        said = _wait_for(output, "run until Ctrl-C", process)
        passwords = {name: password for _, _, name, password in LOGIN_LINE.findall(said)}
        pages = PAGE_LINE.findall(said)
        assert len(pages) == 11 and len(passwords) == 7
        for _, kind, url, who in pages:
            with httpx.Client(timeout=30) as browser:
                if who.startswith("as @"):
                    name = who.removeprefix("as @")
                    login = "/".join(url.split("/", 3)[:3]) + "/login"
                    answer = browser.post(
                        login,
                        data={
                            "login": name,
                            "password": passwords[name],
                            "csrf_token": csrf_from(browser.get(login).text),
                        },
                    )
                    assert answer.status_code == 303, (kind, name)
                page = browser.get(url)
                assert page.status_code == 200, (kind, url, who)
    finally:
        status = _stop(process)
    said = output.read_text(errors="replace")
    assert status == 0, said
    assert "stopping both instances" in said
    # Both instances are down; --data DIR stays, with the instances' data in it.
    for url in {"/".join(url.split("/", 3)[:3]) for _, _, url, _ in pages}:
        assert _is_down(url), f"{url} still answers"
    assert (tmp_path / "demo" / "alpha" / "config.toml").exists()
    assert (tmp_path / "demo" / "beta" / "likewise.db").exists()


def _is_down(base_url: str) -> bool:
    try:
        httpx.get(f"{base_url}/healthz", timeout=2)
    except httpx.HTTPError:
        return True
    return False
