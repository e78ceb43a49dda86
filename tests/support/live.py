"""Helpers for settlement between real instances on loopback (CLI and HTTP, as admins and
users drive them)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from activitypub.claims import ClaimMethod
from activitypub.keys import ed25519_private_from_pem
from activitypub.settlement import Amount
from activitypub.signatures import sign_request
from server.db.engine import Database
from server.escrow.announcements import announce_claims
from server.models import Account, Actor, Identity, Job
from server.models.jobs import JobState
from server.settings import Settings
from tests.support.instances import LiveInstance
from tests.support.settlement import Speaker

FAST = {"LIKEWISE_DELIVERY_BACKOFF_SCALE": "0.001", "COLUMNS": "240"}
Start = Callable[..., LiveInstance]
Row = TypeVar("Row")
T = TypeVar("T")


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
    response = httpx.post(
        f"{instance.base_url}/api/v1/statuses", json={"status": text}, headers=auth
    )
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


def listed(instance: LiveInstance, *command: str) -> list[dict[str, str]]:
    """The rows a `likewise … list --json` command prints."""
    rows: list[dict[str, str]] = json.loads(instance.cli(*command, "--json").stdout)
    return rows


def peer_row(instance: LiveInstance, domain: str) -> dict[str, str]:
    """This instance's `peers list` row for `domain` ({} if it has none)."""
    for row in listed(instance, "peers", "list"):
        if row["kind"] == "peer" and row["domain"] == domain:
            return row
    return {}


def peer_state(instance: LiveInstance, domain: str) -> str:
    return peer_row(instance, domain).get("state", "")


def peer(a: LiveInstance, b: LiveInstance, *options: str) -> None:
    """A proposes (with `options`, e.g. a credit limit), B's admin accepts; both see an
    active peer."""
    a.cli("peers", "add", b.domain, *options)
    eventually(lambda: peer_state(b, a.domain) == "proposed")
    b.cli("peers", "accept", a.domain)
    eventually(lambda: peer_state(a, b.domain) == "active")
    assert peer_state(b, a.domain) == "active"


def ledger_ok(instance: LiveInstance) -> None:
    result = instance.cli("ledger", "check", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def rows(instance: LiveInstance, query: SelectOfScalar[Row]) -> list[Row]:
    """What `query` finds in a live instance's database, read from the test process."""

    async def read() -> list[Row]:
        db = Database(instance.database_url)
        try:
            async with db.session() as session:
                return list((await session.exec(query)).all())
        finally:
            await db.dispose()

    return asyncio.run(read())


def on(instance: LiveInstance, work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    """Run `work` against a live instance's own database and settings, from the test process."""

    async def run() -> T:
        settings = Settings(
            data_dir=instance.data_dir,
            domain=instance.domain,
            database_url=instance.database_url,
            dev=True,
        )
        db = Database(instance.database_url)
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(run())


def jobs_finished(instance: LiveInstance, kind: str) -> bool:
    """Whether no job of `kind` waits or runs on the instance (a close's or a peering's
    settlement.prepare, say, which would otherwise race a test's own `settlements send`)."""
    waiting = rows(
        instance,
        select(Job).where(
            Job.kind == kind, col(Job.state).in_([JobState.queued, JobState.running])
        ),
    )
    return not waiting


def claim_by_bridge(instance: LiveInstance, username: str, did: str, handle: str) -> int:
    """A creator's Bluesky identity verified on `instance` (the stand-in for a bridge's claim
    by OAuth, which has no page yet), then `announce_claims`, the hook the bridges call: the
    instance tells its peers. Returns how many announcements were queued."""

    async def work(db: Database, settings: Settings) -> int:
        async with db.transaction() as session:
            found = await session.exec(select(Account.id).where(Account.username == username))
            account = int(found.one() or 0)
            identity = Identity(
                network="bluesky",
                external_id=did,
                handle=handle,
                profile_url=f"https://bsky.app/profile/{did}",
                claimed_account_id=account,
                claimed_at=datetime.now(UTC),
            )
            session.add(identity)
            await session.flush()
            methods = {int(identity.id or 0): ClaimMethod.OAUTH}
            return await announce_claims(session, settings, account, methods)

    return on(instance, work)


def claims(instance: LiveInstance) -> list[tuple[str, str, str, str]]:
    """(direction, peer, claimant, state) of each claim `likewise claims list` shows."""
    found = listed(instance, "claims", "list")
    return sorted((c["dir"], c["peer"], c["claimant"], c["state"]) for c in found)


def instance_keys(instance: LiveInstance) -> Speaker:
    (actor,) = rows(instance, select(Actor).where(Actor.uri == f"{instance.base_url}/actor"))
    assert actor.private_key_pem and actor.ed25519_private_pem
    return Speaker(
        actor.uri,
        actor.key_id,
        actor.private_key_pem,
        ed25519_private_from_pem(actor.ed25519_private_pem),
    )


def post_signed(
    target: LiveInstance, document: object, signer: Speaker, *, raw: bytes | None = None
) -> httpx.Response:
    """POST a document to the target's instance inbox, HTTP-signed by `signer`."""
    body = raw if raw is not None else json.dumps(document).encode()
    url = f"{target.base_url}/actor/inbox"
    headers = sign_request(
        "POST",
        url,
        {"Content-Type": "application/activity+json"},
        body,
        signer.key_id,
        signer.rsa_pem,
    )
    return httpx.post(url, content=body, headers=headers, timeout=30)


def money(value: int) -> Amount:
    return Amount(value, "EUR", 2)


def is_down(instance: LiveInstance) -> bool:
    try:
        httpx.get(f"{instance.base_url}/healthz", timeout=1)
    except httpx.HTTPError:
        return True
    return False


def incoming_notice(instance: LiveInstance) -> str:
    """The id of a payment notice from a peer that waits for this admin, or ""."""
    for row in listed(instance, "settlements", "list"):
        if row["kind"] == "payment" and row["dir"] == "in" and row["state"] == "notified":
            return row["id"]
    return ""
