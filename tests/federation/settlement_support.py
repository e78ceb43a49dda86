"""Helpers for settlement between real instances on loopback (CLI and HTTP, as admins and
users drive them)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.instances import LiveInstance

FAST = {"LIKEWISE_DELIVERY_BACKOFF_SCALE": "0.001", "COLUMNS": "240"}
Start = Callable[..., LiveInstance]


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, KeyError, IndexError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def user(instance: LiveInstance, name: str) -> dict[str, str]:
    instance.cli(
        "users", "create", name, "--email", f"{name}@example.org", "--password", "pw-123456"
    )
    token = instance.cli("tokens", "create", name, "--scopes", "read write follow").stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def post(instance: LiveInstance, auth: dict[str, str], text: str) -> dict[str, Any]:
    response = httpx.post(f"{instance.base_url}/api/v1/statuses", json={"status": text}, headers=auth)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def like(instance: LiveInstance, auth: dict[str, str], uri: str) -> dict[str, Any]:
    response = httpx.post(
        f"{instance.base_url}/api/v1/likewise/likes", json={"uri": uri}, headers=auth, timeout=30
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def me(instance: LiveInstance, auth: dict[str, str]) -> dict[str, Any]:
    response = httpx.get(f"{instance.base_url}/api/v1/likewise/me", headers=auth)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def creator_balances(instance: LiveInstance, auth: dict[str, str]) -> tuple[int, int]:
    """(pending, available) in minor units."""
    creator = me(instance, auth)["creator"]
    return int(creator["pending"]["value"]), int(creator["available"]["value"])


def this_period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def close(instance: LiveInstance) -> None:
    """Close the running month early, as an admin (or a test) may."""
    instance.cli("period", "close", "--period", this_period(), "--force")


def peer_state(instance: LiveInstance, domain: str) -> str:
    output = instance.cli("peers", "list").stdout
    for line in output.splitlines():
        if domain in line:
            return "active" if "active" in line else "proposed" if "proposed" in line else line
    return ""


def peer(a: LiveInstance, b: LiveInstance) -> None:
    """A proposes, B's admin accepts; both see an active peer."""
    a.cli("peers", "add", b.domain)
    eventually(lambda: peer_state(b, a.domain) == "proposed")
    b.cli("peers", "accept", a.domain)
    eventually(lambda: peer_state(a, b.domain) == "active")
    assert peer_state(b, a.domain) == "active"


def ledger_ok(instance: LiveInstance) -> None:
    result = instance.cli("ledger", "check", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
