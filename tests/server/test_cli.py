"""The `likewise` command as an admin runs it: a real process, real data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import DatabaseFactory


def likewise(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["serve"],
        ["migrate"],
        ["worker"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
        ["tokens", "create"],
        ["config", "show"],
    ):
        result = likewise(*command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage: " in result.stdout


def test_users_tokens_and_config(tmp_path: Path, databases: DatabaseFactory) -> None:
    env = {"LIKEWISE_DATABASE_URL": databases.empty(), "LIKEWISE_DATA": str(tmp_path / "d")}
    created = likewise(
        "users",
        "create",
        "Boss",
        "--email",
        "boss@example.org",
        "--password",
        "correct horse",
        "--admin",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    assert "created admin @boss" in created.stdout
    listed = likewise("users", "list", env=env)
    assert "boss@example.org" in listed.stdout
    token = likewise("tokens", "create", "boss", "--scopes", "read admin:read", env=env)
    assert token.returncode == 0, token.stderr
    assert len(token.stdout.strip()) >= 40
    duplicate = likewise(
        "users",
        "create",
        "boss",
        "--email",
        "x@example.org",
        "--password",
        "correct horse",
        env=env,
    )
    assert duplicate.returncode == 1
    assert "already taken" in duplicate.stderr
    shown = likewise("config", "show", env=env)
    assert "LIKEWISE_CURRENCY" in shown.stdout
    assert "(set)" in shown.stdout  # the generated secret, masked
    assert "secret_key" in (tmp_path / "d" / "config.toml").read_text()


def test_password_is_prompted_when_absent(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "users",
            "create",
            "pat",
            "--email",
            "p@example.org",
            "--data",
            str(tmp_path),
        ],
        input="correct horse\ncorrect horse\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "created user @pat" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["migrate"], {"LIKEWISE_DATABASE_URL": "mysql://x@localhost/db"}, "not supported"),
        (["migrate"], {"LIKEWISE_DATABASE_URL": "not a url"}, "not a valid URL"),
        (
            ["migrate"],
            {"LIKEWISE_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
            "cannot use the database",
        ),
        (["migrate"], {"LIKEWISE_CURRENCY": "EURO"}, "ISO 4217"),
    ],
)
def test_configuration_errors_are_one_clear_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = likewise(*args, "--data", str(tmp_path), env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unwritable_data_directory_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = likewise("serve", "--data", str(blocker / "data"))
    assert result.returncode == 1
    assert "is not writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = likewise("serve", "--port", str(port), "--data", str(tmp_path))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr
