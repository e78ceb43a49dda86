"""The public base URL recorded in the data directory: every process mints ids from it, and
a setting that disagrees is refused with a message saying how to change it on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.settings import (
    ConfigError,
    Settings,
    ensure_data_dir,
    load_settings,
    record_public_url,
)
from tests.support.databases import DatabaseFactory


def _serve_settings(
    root: Path, port: int = 8443, *, tls: bool = True, environ: dict[str, str] | None = None
) -> Settings:
    """Settings as `likewise serve --port PORT [--ssl-certfile …]` loads them."""
    return load_settings(
        root, environ=environ or {}, overrides={"tls": tls}, default_domain=f"127.0.0.1:{port}"
    )


def _record(root: Path, *, tls: bool = True, **env: str) -> None:
    settings = ensure_data_dir(_serve_settings(root, tls=tls, environ=env))
    assert record_public_url(settings)


def test_serve_records_once_and_every_process_mints_from_it(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('# the admin\'s note\nsecret_key = "s"\n')
    _record(tmp_path)
    text = (tmp_path / "config.toml").read_text()
    assert 'public_url = "https://127.0.0.1:8443"' in text
    assert "# the admin's note" in text and 'secret_key = "s"' in text
    # A CLI process or worker: no LIKEWISE_DOMAIN, no --ssl-certfile.
    cli = load_settings(tmp_path, environ={})
    assert cli.base_url == "https://127.0.0.1:8443"
    assert "public_url" not in cli.extra
    # Recorded already: a second serve records nothing more.
    again = ensure_data_dir(load_settings(tmp_path, environ={}, overrides={"tls": True}))
    assert not record_public_url(again)
    assert (tmp_path / "config.toml").read_text() == text


def test_the_same_domain_given_again_is_fine(tmp_path: Path) -> None:
    _record(tmp_path, tls=False, LIKEWISE_DOMAIN="likewise.example", LIKEWISE_DEV="0")
    settings = load_settings(tmp_path, environ={"LIKEWISE_DOMAIN": "Likewise.Example"})
    assert settings.base_url == "https://likewise.example"
    # serve behind a proxy: another listening port, the public domain given
    proxied = _serve_settings(
        tmp_path, 9000, tls=False, environ={"LIKEWISE_DOMAIN": "likewise.example"}
    )
    assert proxied.base_url == "https://likewise.example"


def test_an_http_url_keeps_dev_mode_for_every_process(tmp_path: Path) -> None:
    _record(tmp_path, tls=False, LIKEWISE_DOMAIN="lan.example", LIKEWISE_DEV="1")
    settings = load_settings(tmp_path, environ={})
    assert settings.base_url == "http://lan.example"
    assert settings.dev


@pytest.mark.parametrize(
    ("serve", "environ", "says"),
    [
        (None, {"LIKEWISE_DOMAIN": "other.example"}, "LIKEWISE_DOMAIN (or domain in"),
        ((8443, False), {}, "without --ssl-certfile"),
        ((9000, True), {}, "Set LIKEWISE_DOMAIN=127.0.0.1:8443 if a proxy"),
        ((8443, True), {"LIKEWISE_DOMAIN": "127.0.0.2:8443"}, "is 127.0.0.2:8443"),
    ],
)
def test_a_conflicting_setting_is_refused(
    tmp_path: Path, serve: tuple[int, bool] | None, environ: dict[str, str], says: str
) -> None:
    _record(tmp_path)
    with pytest.raises(ConfigError) as refused:
        if serve is None:
            load_settings(tmp_path, environ=environ)
        else:
            _serve_settings(tmp_path, serve[0], tls=serve[1], environ=environ)
    message = str(refused.value)
    assert "public URL is https://127.0.0.1:8443" in message
    assert says in message
    assert f"edit public_url in {tmp_path / 'config.toml'}" in message


@pytest.mark.parametrize(
    ("environ", "tls", "says"),
    [
        ({}, True, "with --ssl-certfile, which serves https"),
        ({"LIKEWISE_DEV": "0", "LIKEWISE_DOMAIN": "lan.example"}, False, "dev mode is off"),
    ],
)
def test_https_cannot_take_over_an_http_url(
    tmp_path: Path, environ: dict[str, str], tls: bool, says: str
) -> None:
    if environ:
        _record(tmp_path, tls=False, LIKEWISE_DOMAIN="lan.example", LIKEWISE_DEV="1")
    else:
        _record(tmp_path, tls=False)
    with pytest.raises(ConfigError, match=says):
        load_settings(tmp_path, environ=environ, overrides={"tls": tls})


@pytest.mark.parametrize("value", ["127.0.0.1:8000", "ftp://x.example", "https://x.example/p", 5])
def test_a_malformed_recorded_url_is_refused(tmp_path: Path, value: object) -> None:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    (tmp_path / "config.toml").write_text(f"public_url = {shown}\n")
    with pytest.raises(ConfigError, match="is not scheme://host"):
        load_settings(tmp_path, environ={})


def likewise(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_the_first_account_records_the_url_and_a_later_serve_elsewhere_is_refused(
    tmp_path: Path, databases: DatabaseFactory
) -> None:
    """Accounts created before the first serve got their ids from the settings of then:
    serving under another domain afterwards is refused, not left to break them."""
    data = tmp_path / "d"
    env = {"LIKEWISE_DATABASE_URL": databases.empty(), "LIKEWISE_DATA": str(data)}
    created = likewise(
        "users", "create", "ann", "--email", "ann@example.org", "--password", "correct horse",
        env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert 'public_url = "http://127.0.0.1:8000"' in (data / "config.toml").read_text()
    moved = likewise("serve", "--port", "8001", env={**env, "LIKEWISE_DOMAIN": "example.org"})
    assert moved.returncode == 1
    assert "public URL is http://127.0.0.1:8000" in moved.stderr
    assert "edit public_url in" in moved.stderr
    shown = likewise("config", "show", env=env)
    assert "public URL: http://127.0.0.1:8000" in shown.stdout
