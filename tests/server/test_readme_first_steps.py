"""The README's first steps work as written on a fresh data directory: the admin it creates
has a name that is not reserved, and its token command names the same account."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "correct horse"


def _first_steps() -> list[list[str]]:
    """The `likewise` commands of the README's "First steps" shell block, comments dropped."""
    section = README.read_text().split("## First steps", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README's first steps have no shell block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("likewise ")]


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args[1:], "--data", str(data)],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_the_readme_first_two_commands_work_on_a_fresh_data_dir(tmp_path: Path) -> None:
    # Given the README's first two commands: create the first admin, then a token for it
    commands = _first_steps()[:2]
    assert [command[1:3] for command in commands] == [["users", "create"], ["tokens", "create"]]
    # When they run as written against a new data directory
    created = _run(commands[0], tmp_path / "data")
    token = _run(commands[1], tmp_path / "data")
    # Then both succeed: the admin exists, and the token is printed
    assert created.returncode == 0, created.stderr
    assert "created admin @" in created.stdout
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip()
