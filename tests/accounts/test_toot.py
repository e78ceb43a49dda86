"""toot, the command-line client, logs in to a live instance and posts: by the password
grant when the admin enables it (`toot login_cli`), and by the browser flow with the
out-of-band code pasted on its stdin (`toot login`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.support.accounts import csrf_from
from tests.support.instances import LiveInstance

TOOT = str(Path(sys.executable).parent / "toot")
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _token(instance: LiveInstance, name: str) -> str:
    made = instance.cli("tokens", "create", name, "--scopes", "read write follow")
    return made.stdout.strip().splitlines()[-1]


def _toot(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "NO_COLOR": "1"}
    return subprocess.run(
        [TOOT, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


def _user(instance: LiveInstance, name: str) -> None:
    instance.cli(
        "users", "create", name, "--email", f"{name}@example.org", "--password", "correct horse"
    )


def _posted(instance: LiveInstance, name: str, text: str) -> bool:
    timeline = httpx.get(f"{instance.base_url}/api/v1/timelines/public", timeout=10)
    return any(s["account"]["username"] == name and text in s["content"] for s in timeline.json())


def test_toot_logs_in_with_a_password_and_posts(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    instance = instances(env={"LIKEWISE_OAUTH_PASSWORD_GRANT": "1"})
    _user(instance, "erin")
    login = _toot(
        tmp_path,
        "login_cli",
        "--instance",
        instance.base_url,
        "--email",
        "erin@example.org",
        "--password",
        "correct horse",
    )
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Successfully logged in" in login.stdout
    post = _toot(tmp_path, "post", "Hello from toot")
    assert post.returncode == 0, post.stdout + post.stderr
    assert _posted(instance, "erin", "Hello from toot")

    # Someone erin follows writes; they favourite erin's post: toot reads both.
    _user(instance, "gus")
    gus = {"Authorization": f"Bearer {_token(instance, 'gus')}"}
    followed = _toot(tmp_path, "follow", "gus")
    assert followed.returncode == 0, followed.stdout + followed.stderr
    api = f"{instance.base_url}/api/v1"
    written = httpx.post(f"{api}/statuses", json={"status": "Gus writes back"}, headers=gus)
    assert written.status_code == 200, written.text
    mine = httpx.get(f"{api}/timelines/public", timeout=10).json()
    erins = next(s for s in mine if s["account"]["username"] == "erin")
    liked = httpx.post(f"{api}/statuses/{erins['id']}/favourite", headers=gus, timeout=10)
    assert liked.status_code == 200, liked.text
    home = _toot(tmp_path, "timelines", "home")
    assert home.returncode == 0, home.stdout + home.stderr
    assert "Gus writes back" in home.stdout and "Hello from toot" in home.stdout
    notifications = _toot(tmp_path, "notifications", "--json")
    assert notifications.returncode == 0, notifications.stdout + notifications.stderr
    kinds = {(n["type"], n["account"]["username"]) for n in json.loads(notifications.stdout)}
    assert ("favourite", "gus") in kinds


def _code_from_pages(login_url: str, name: str) -> str:
    """Log in and authorize on the instance's own pages, as a person in a browser would."""
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        login_page = browser.get(login_url)
        assert urlsplit(str(login_page.url)).path == "/login"
        consent = browser.post(
            str(login_page.url),
            data={
                "login": name,
                "password": "correct horse",
                "csrf_token": csrf_from(login_page.text),
            },
        )
        assert "Authorize toot" in consent.text, consent.text
        fields = dict(HIDDEN.findall(consent.text))
        shown = browser.post(
            f"{login_url.split('/oauth/')[0]}/oauth/authorize",
            data={**fields, "decision": "approve"},
        )
        return shown.text.split('id="code" type="text" readonly value="')[1].split('"')[0]


def test_toot_logs_in_with_a_pasted_code_and_posts(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    instance = instances()
    _user(instance, "finn")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "NO_COLOR": "1"}
    toot = subprocess.Popen(
        [TOOT, "login", "--instance", instance.base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    assert toot.stdin is not None and toot.stdout is not None
    lines = iter(toot.stdout.readline, "")
    next(line for line in lines if line.startswith("Login URL"))
    url = next(lines).strip()
    code = _code_from_pages(url, "finn")  # toot asks for /oauth/authorize/?…
    out, _ = toot.communicate(f"n\n{code}\n", timeout=60)
    assert toot.returncode == 0, out
    assert "Successfully logged in" in out
    post = _toot(tmp_path, "post", "Hello from toot, by code")
    assert post.returncode == 0, post.stdout + post.stderr
    assert _posted(instance, "finn", "Hello from toot, by code")
