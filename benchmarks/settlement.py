"""A settlement batch of 10,000 lines signed, sent, verified and credited end to end.

Two Likewise instances (`likewise serve`, SQLite) on loopback peer with each other. The
donors' instance A holds the closed month of 10,000 donors, each liking three posts, over
10,000 creators on instance B (30,000 clicks, so 10,000 lines of three supporters each).
Timed: from the end of `likewise period close` on A (which queues the settlement) until A
has booked B's receipt: A's worker checks payability, signs, stores and delivers the
batch, B verifies the HTTP signature and the proof,
checks every line's creator, credits 10,000 pending balances and answers with a signed
receipt. Then the verification of the stored batch and receipt on B (`settlements verify`).

Baseline, measured in the same run: the protocol library alone on the same lines, in
memory — build, sign (Ed25519 over RFC 8785), parse and verify the batch, make and sign the
receipt — with no database and no HTTP. Targets: end to end under 10 s, the stored
verification under 1 s.

    .venv/bin/python benchmarks/settlement.py [--creators 10000] [--clicks-per-donor 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from close import insert_in_batches  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key  # noqa: E402
from activitypub.settlement import (  # noqa: E402
    Amount,
    BatchOffer,
    Envelope,
    SettlementLine,
    batch_digest,
    build_batch_offer,
    build_receipt,
    make_receipt,
    parse_batch_offer,
    sign_document,
    verify_document,
)
from server.db.engine import Database  # noqa: E402
from server.models import (  # noqa: E402
    Account,
    Actor,
    Click,
    Identity,
    LedgerKind,
    Settlement,
    Thing,
    TransferKind,
)
from server.models.base import utcnow  # noqa: E402
from server.money.ledger import Owner, TransferSpec, ledger_accounts, post_many  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.support.instances import LiveInstance  # noqa: E402

PERIOD = "2026-10"
TARGET_SECONDS = 10.0
TARGET_VERIFY_SECONDS = 1.0
CHUNK = 5000
FAST = {
    "LIKEWISE_DELIVERY_BACKOFF_SCALE": "0.001",
    "COLUMNS": "200",
    "LIKEWISE_MAX_BODY_BYTES": "67108864",
}


def _account(name: str, now: datetime) -> dict[str, Any]:
    return {
        "username": name,
        "email": f"{name}@example.org",
        "password_hash": "x",
        "is_admin": False,
        "display_name": "",
        "summary": "",
        "locked": False,
        "discoverable": True,
        "created_at": now,
    }


def _actor(uri: str, name: str, domain: str, now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "uri": uri,
        "is_local": False,
        "type": "Person",
        "username": name,
        "domain": domain,
        "inbox": f"{uri}/inbox",
        "outbox": f"{uri}/outbox",
        "shared_inbox": "",
        "followers_url": f"{uri}/followers",
        "name": name,
        "summary": "",
        "url": uri,
        "icon_url": "",
        "key_id": f"{uri}#main-key",
        "public_key_pem": "",
        "ed25519_public_multibase": "",
        "payment_link": "",
        "created_at": now,
        "updated_at": now,
        **extra,
    }


async def seed_creators(b: LiveInstance, creators: int) -> None:
    """B: local accounts with their actors (keys are not needed to receive money)."""
    db, now = Database(b.database_url), utcnow()
    try:
        names = [f"c{i}" for i in range(creators)]
        await insert_in_batches(db, Account.__table__, [_account(n, now) for n in names])  # type: ignore[attr-defined]
        async with db.session() as session:
            rows = await session.exec(select(Account.id, Account.username))
            ids = dict((name, i) for i, name in rows.all())
        actors = [
            _actor(f"{b.base_url}/users/{n}", n, b.domain, now, is_local=True, account_id=ids[n])
            for n in names
        ]
        await insert_in_batches(db, Actor.__table__, actors)  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def seed_donors(a: LiveInstance, b: LiveInstance, creators: int, per_donor: int) -> int:
    """A: donors with funded wallets, each liking `per_donor` posts of B's creators (the
    remote creators' actors cached as fetched, with their payment links)."""
    db, now = Database(a.database_url), utcnow()
    settings = Settings(data_dir=a.data_dir, domain=a.domain, database_url=a.database_url)
    try:
        donors = [f"d{i}" for i in range(creators)]
        await insert_in_batches(db, Account.__table__, [_account(n, now) for n in donors])  # type: ignore[attr-defined]
        uris = [f"{b.base_url}/users/c{i}" for i in range(creators)]
        remote = [
            _actor(
                u,
                f"c{i}",
                b.domain,
                now,
                fetched_at=now,
                payment_link=f"{b.base_url}/@c{i}/support",
            )
            for i, u in enumerate(uris)
        ]
        await insert_in_batches(db, Actor.__table__, remote)  # type: ignore[attr-defined]
        identities = [
            {
                "network": "fediverse",
                "external_id": u,
                "handle": f"@c{i}@{b.domain}",
                "profile_url": u,
                "created_at": now,
            }
            for i, u in enumerate(uris)
        ]
        await insert_in_batches(db, Identity.__table__, identities)  # type: ignore[attr-defined]
        async with db.session() as session:
            ident = dict((await session.exec(select(Identity.external_id, Identity.id))).all())
            accounts = dict((await session.exec(select(Account.username, Account.id))).all())
        things = [
            {
                "uri": f"{u}/statuses/1",
                "kind": "activitypub",
                "identity_id": ident[u],
                "title": "",
                "created_at": now,
            }
            for u in uris
        ]
        await insert_in_batches(db, Thing.__table__, things)  # type: ignore[attr-defined]
        async with db.session() as session:
            query = select(Thing.id).order_by(col(Thing.id))
            thing_ids = [int(r or 0) for r in (await session.exec(query)).all()]
        clicks = []
        for d, name in enumerate(donors):
            donor = accounts[name]
            for k in range(per_donor):
                thing = thing_ids[(d + k * 7919) % creators]
                clicks.append(
                    {
                        "donor_id": donor,
                        "thing_id": thing,
                        "period": PERIOD,
                        "source": "client_api",
                        "source_ref": f"{a.base_url}/users/{name}#likes/{thing}",
                        "created_at": now,
                    }
                )
        await insert_in_batches(db, Click.__table__, clicks)  # type: ignore[attr-defined]
        donor_ids = [accounts[n] for n in donors]
        for start in range(0, len(donor_ids), CHUNK):
            chunk = donor_ids[start : start + CHUNK]
            async with db.transaction() as session:
                owners = [Owner(LedgerKind.outside_world)] + [
                    Owner(LedgerKind.donor_wallet, account_id=d) for d in chunk
                ]
                found = await ledger_accounts(session, settings, owners)
                world = int(found[owners[0]].id or 0)
                await post_many(
                    session,
                    [
                        TransferSpec(
                            f"fund:bench:{o.account_id}",
                            world,
                            int(found[o].id or 0),
                            1000,
                            TransferKind.funding,
                        )
                        for o in owners[1:]
                    ],
                )
        return len(clicks)
    finally:
        await db.dispose()


def baseline(creators: int, per_donor: int) -> float:
    """The protocol library alone on a batch of the same shape, in memory."""
    sender, receiver = generate_ed25519_key(), generate_ed25519_key()
    a, b = "http://a.example/actor", "http://b.example/actor"
    started = time.perf_counter()
    lines = tuple(
        SettlementLine(
            f"http://b.example/users/c{i}",
            Amount(1000, "EUR", 2),
            per_donor,
            tuple(f"http://a.example/users/d{i}#likes/{k}" for k in range(per_donor)),
        )
        for i in range(creators)
    )
    offer = BatchOffer(
        id="http://a.example/settlements/1",
        actor=a,
        recipient=b,
        published=datetime.now(UTC),
        period=PERIOD,
        sequence=1,
        currency="EUR",
        lines=lines,
    )
    document = sign_document(build_batch_offer(offer), sender, f"{a}#ed25519-key")
    received = parse_batch_offer(document)
    verify_document(document, ed25519_public_to_multibase(sender.public_key()), a)
    digest = batch_digest(document)
    envelope = Envelope(
        id="http://b.example/settlements/2", actor=b, recipient=a, published=datetime.now(UTC)
    )
    receipt = make_receipt(envelope, received, digest, {})
    sign_document(build_receipt(receipt), receiver, f"{b}#ed25519-key")
    return time.perf_counter() - started


async def _batch_state(instance: LiveInstance, direction: str) -> tuple[str, int, int] | None:
    db = Database(instance.database_url)
    try:
        async with db.session() as session:
            query = select(Settlement).where(Settlement.direction == direction)
            settlement = (await session.exec(query)).first()
            if settlement is None:
                return None
            return settlement.state, settlement.accepted_total, int(settlement.id or 0)
    finally:
        await db.dispose()


async def _pending_total(instance: LiveInstance) -> int:
    db = Database(instance.database_url)
    try:
        async with db.session() as session:
            from server.models import LedgerAccount

            total = await session.exec(
                select(func.coalesce(func.sum(LedgerAccount.balance), 0)).where(
                    col(LedgerAccount.kind) == LedgerKind.creator_pending.value
                )
            )
            return int(total.one())
    finally:
        await db.dispose()


async def _verify_stored(b: LiveInstance, settlement_id: int) -> tuple[float, bool]:
    from server.settlement.exchange import verify_settlement

    settings = Settings(data_dir=b.data_dir, domain=b.domain, database_url=b.database_url)
    db = Database(b.database_url)
    try:
        started = time.perf_counter()
        result = await verify_settlement(db, settings, settlement_id)
        return time.perf_counter() - started, result.ok
    finally:
        await db.dispose()


def wait_for(check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise SystemExit("timed out waiting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creators", type=int, default=10_000)
    parser.add_argument("--clicks-per-donor", type=int, default=3)
    parser.add_argument("--keep-logs", action="store_true", help="print the servers' logs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a, b = (
            LiveInstance(root / name, f"sqlite+aiosqlite:///{root}/{name}.db", env=dict(FAST))
            for name in ("a", "b")
        )
        for instance in (a, b):
            instance.start()
        try:
            run(a, b, args.creators, args.clicks_per_donor)
        finally:
            for instance in (a, b):
                if "--keep-logs" in sys.argv:
                    print(instance.read_log()[-4000:])
                instance.stop()


def run(a: LiveInstance, b: LiveInstance, creators: int, per_donor: int) -> None:
    print(f"seeding: {creators:,} creators on B, {creators:,} donors on A …", flush=True)
    asyncio.run(seed_creators(b, creators))
    clicks = asyncio.run(seed_donors(a, b, creators, per_donor))
    a.cli("peers", "add", b.domain, "--credit-limit", "1000000000.00")
    wait_for(lambda: "proposed" in b.cli("peers", "list").stdout)
    b.cli("peers", "accept", a.domain)
    wait_for(lambda: "active" in a.cli("peers", "list").stdout)
    started = time.perf_counter()
    a.cli("period", "close", "--period", PERIOD)
    close_seconds = time.perf_counter() - started
    print(f"A closed {PERIOD}: {clicks:,} clicks in {close_seconds:.1f} s", flush=True)

    # The close queued the settlement: A's worker checks payability, signs, stores and
    # sends the batch; B verifies and credits it and answers; A books the receipt.
    started = time.perf_counter()
    wait_for(lambda: asyncio.run(_batch_state(a, "out")), timeout=300)
    signed = time.perf_counter() - started
    received = wait_for(lambda: asyncio.run(_batch_state(b, "in")), timeout=300)
    credited = time.perf_counter() - started
    answered = wait_for(
        lambda: (lambda s: s if s and s[0] == "accepted" else None)(
            asyncio.run(_batch_state(a, "out"))
        ),
        timeout=300,
    )
    total = time.perf_counter() - started
    pending = asyncio.run(_pending_total(b))
    verify_seconds, ok = asyncio.run(_verify_stored(b, received[2]))
    library = baseline(creators, per_donor)

    print(f"lines: {creators:,}   clicks: {clicks:,}   accepted total: {answered[1]:,} minor units")
    print(f"  after the close: batch signed on A  {signed:6.2f} s")
    print(f"  until B has credited the batch      {credited:6.2f} s")
    print(
        f"  until A has booked the receipt      {total:6.2f} s   (target < {TARGET_SECONDS:.0f} s)"
    )
    target = f"(target < {TARGET_VERIFY_SECONDS:.0f} s)"
    print(f"  verify the stored batch on B        {verify_seconds:6.2f} s   {target}")
    print(f"baseline (library only, in memory)    {library:6.2f} s")
    print(f"ratio end to end / baseline           {total / library:6.1f}x")
    checks = {
        "B credited exactly the accepted total": pending == answered[1],
        "stored batch verifies": ok,
        "A ledger check": a.cli("ledger", "check", check=False).returncode == 0,
        "B ledger check": b.cli("ledger", "check", check=False).returncode == 0,
    }
    for name, good in checks.items():
        print(f"  {'ok  ' if good else 'FAIL'} {name}")
    met = total < TARGET_SECONDS and verify_seconds < TARGET_VERIFY_SECONDS
    print(f"target {'met' if met else 'MISSED'}")
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
