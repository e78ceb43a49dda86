"""Two Mastodon clients for node, masto and megalodon, against a live instance with a token
from `likewise tokens create`: the instance, the account, a post, the home timeline and a
favourite, as an app does them. Each script prints what every call answered as JSON."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.instances import LiveInstance

CLIENTS = Path(__file__).resolve().parent
VERSION_PREFIX = "4.3.0 (compatible; Likewise "


def _token(instance: LiveInstance, username: str) -> str:
    instance.cli(
        "users", "create", username, "--email", f"{username}@example.org",
        "--password", "correct horse",
    )  # fmt: skip
    created = instance.cli("tokens", "create", username, "--scopes", "read write follow")
    return created.stdout.strip()


def _run(node: str, script: str, instance: LiveInstance, token: str) -> dict[str, Any]:
    ran = subprocess.run(
        [node, str(CLIENTS / script), instance.base_url, token],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    results: dict[str, Any] = json.loads(ran.stdout)
    return results


def _values(results: dict[str, Any]) -> dict[str, Any]:
    """Every call's answer, once every call succeeded (else the failures, to read)."""
    failed = {name: step["error"] for name, step in results.items() if not step["ok"]}
    assert failed == {}
    return {name: step["value"] for name, step in results.items()}


def test_masto(instances: Callable[..., LiveInstance], node: str) -> None:
    instance = instances()
    token = _token(instance, "nina")
    answers = _values(_run(node, "masto.mjs", instance, token))
    assert answers["v2_instance"]["domain"] == instance.domain
    assert answers["v2_instance"]["version"].startswith(VERSION_PREFIX)
    assert answers["v1_instance"]["uri"] == instance.domain
    assert answers["verify_credentials"]["username"] == "nina"
    posted = answers["post"]
    assert posted["content"] == "<p>hello from masto</p>"
    assert posted["id"] in answers["home"]
    assert answers["favourite"] == {"favourited": True, "favourites_count": 1}
    assert answers["unfavourite"] == {"favourited": False, "favourites_count": 0}
    assert "Traceback" not in instance.read_log()


def test_megalodon(instances: Callable[..., LiveInstance], node: str) -> None:
    instance = instances()
    token = _token(instance, "omar")
    answers = _values(_run(node, "megalodon.mjs", instance, token))
    assert answers["detector"] == "mastodon"
    assert answers["instance"]["uri"] == instance.domain
    assert answers["instance"]["version"].startswith(VERSION_PREFIX)
    assert answers["verify_credentials"]["username"] == "omar"
    posted = answers["post"]
    assert posted["content"] == "<p>hello from megalodon</p>"
    assert posted["id"] in answers["home"]
    assert answers["favourite"] == {"favourited": True, "favourites_count": 1}
    assert "Traceback" not in instance.read_log()
