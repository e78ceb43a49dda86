"""`--json` on the list commands: one JSON array of objects, one key per column."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from server.cli import main
from server.db.engine import Database
from server.models import Peer, PeerState
from tests.support.databases import DatabaseFactory


def _run(env: dict[str, str | None], *args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _env(tmp_path: Path, url: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LIKEWISE_")}
    env.update(
        LIKEWISE_DATABASE_URL=url, LIKEWISE_DATA=str(tmp_path / "d"), LIKEWISE_DOMAIN="a.test"
    )
    return env


async def _add_peer(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as session:
            session.add(
                Peer(domain="b.test", state=PeerState.active, currency="EUR", credit_limit=1000)
            )
    finally:
        await db.dispose()


def test_list_commands_print_json_arrays(tmp_path: Path, databases: DatabaseFactory) -> None:
    url = databases.empty()
    env = _env(tmp_path, url)
    for name, admin in (("boss", ["--admin"]), ("ann", [])):
        created = CliRunner().invoke(
            main,
            [
                "users",
                "create",
                name,
                "--email",
                f"{name}@example.org",
                "--password",
                "pw-123456",
                *admin,
            ],
            env=env,
        )
        assert created.exit_code == 0, created.output
    users = _run(env, "users", "list")
    assert [(u["username"], u["email"], u["admin"]) for u in users] == [
        ("boss", "boss@example.org", "yes"),
        ("ann", "ann@example.org", ""),
    ]
    assert set(users[0]) == {"id", "username", "email", "admin", "created"}
    for command in (("payouts", "list"), ("notices", "list"), ("notices", "opt-outs")):
        assert _run(env, *command) == []
    assert _run(env, "settlements", "list") == []
    asyncio.run(_add_peer(url))
    assert _run(env, "peers", "list") == [
        {
            "kind": "peer",
            "domain": "b.test",
            "state": "active",
            "proposed_by": "us",
            "credit_limit": "10.00 EUR",
            "we_owe": "0.00 EUR",
            "they_owe": "0.00 EUR",
            "net": "settled",
        }
    ]
