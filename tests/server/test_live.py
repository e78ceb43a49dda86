"""A real instance: `likewise serve` in its own process, talked to over loopback HTTP."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from server.db.engine import Database
from server.http import build_http_client
from server.models import Actor
from server.settings import Settings
from tests.support.accounts import csrf_from
from tests.support.instances import LiveInstance
from tests.support.tls import make_local_ca


async def _instance_actor_key(database_url: str) -> str:
    db = Database(database_url)
    try:
        async with db.session() as session:
            actor = (await session.exec(select(Actor).where(Actor.type == "Application"))).one()
            return actor.public_key_pem
    finally:
        await db.dispose()


def test_sign_up_over_http_and_restart_keeps_keys_and_data(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances()
    with httpx.Client(base_url=instance.base_url) as browser:
        page = browser.get("/signup")
        signed_up = browser.post(
            "/signup",
            data={
                "username": "ann",
                "email": "ann@example.org",
                "password": "correct horse",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert signed_up.status_code == 303
        assert "@ann" in browser.get("/").text
    key_before = asyncio.run(_instance_actor_key(instance.database_url))
    assert (instance.data_dir / "config.toml").exists()
    instance.stop()
    instance.start()
    assert asyncio.run(_instance_actor_key(instance.database_url)) == key_before
    token = instance.cli("tokens", "create", "ann").stdout.strip()
    me = httpx.get(
        f"{instance.base_url}/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert me.status_code == 200
    assert me.json()["username"] == "ann"
    # The access line is written just after the response goes out.
    wanted = "method=GET path=/api/v1/accounts/verify_credentials status=200"
    deadline = time.monotonic() + 5
    while wanted not in instance.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wanted in instance.read_log()
    assert "Traceback" not in instance.read_log()


def test_https_with_a_local_ca(instances: Callable[..., LiveInstance], tmp_path: Path) -> None:
    ca, cert, key = make_local_ca(tmp_path, ["127.0.0.1"])
    instance = instances(
        args=["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        scheme="https",
        verify=str(ca),
    )
    assert instance.base_url.startswith("https://")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{instance.base_url}/healthz")  # the system store does not know our CA
    trust = ssl.create_default_context(cafile=str(ca))
    login = httpx.get(f"{instance.base_url}/login", verify=trust)
    assert "secure" in login.headers["set-cookie"].lower()

    async def fetch_as_instance() -> int:
        settings = Settings(data_dir=tmp_path, ca_bundle=str(ca))
        async with build_http_client(settings) as client:
            return (await client.get(f"{instance.base_url}/healthz")).status_code

    assert asyncio.run(fetch_as_instance()) == 200
