"""Settlement between real instances on loopback: peering, batches, receipts, payment."""

from __future__ import annotations

import asyncio

from server.db.engine import Database
from server.settings import Settings
from server.settlement.waiting_notice import notices_to_instance
from tests.support.instances import LiveInstance
from tests.support.live import (
    FAST,
    Start,
    close,
    creator_balances,
    eventually,
    incoming_notice,
    ledger_ok,
    like,
    peer,
    post,
    user,
)


def test_donors_on_a_pay_creators_on_b_through_settlement(instances: Start) -> None:
    alpha, beta = instances(env=FAST), instances(env=FAST)
    ann, bob = user(alpha, "ann"), user(beta, "bob")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    status = post(beta, bob, "a post worth supporting")
    like(alpha, ann, status["uri"])
    close(alpha)
    # No agreement yet: the share waits in escrow for beta, and alpha's admin sees it.
    waiting = alpha.cli("peers", "list").stdout
    assert "No active peering" in waiting and beta.domain in waiting and "5.00 EUR" in waiting
    assert "nothing to send" in alpha.cli("settlements", "send").stdout
    # beta's admin is told once that money waits for its creators.
    told = eventually(lambda: _notices(beta))
    assert len(told) == 1 and told[0][0] == f"{alpha.base_url}/actor"
    assert "5.00 EUR for 1 creators" in told[0][1] and f"peers add {alpha.domain}" in told[0][1]
    # Once the admins agree, the held share is offered at once (no command needed).
    peer(alpha, beta)
    eventually(lambda: creator_balances(beta, bob) == (500, 0))
    listed = alpha.cli("settlements", "list").stdout
    assert "accepted" in listed
    alpha.cli("settlements", "mark-paid", beta.domain, "5.00", "--reference", "SEPA-1")
    payment = eventually(lambda: incoming_notice(beta))
    for instance in (alpha, beta):
        assert "payment of 5.00 EUR awaiting confirmation" in instance.cli("peers", "list").stdout
    beta.cli("settlements", "confirm", payment)
    eventually(lambda: creator_balances(beta, bob) == (0, 500))
    eventually(lambda: "confirmed" in alpha.cli("settlements", "list").stdout)
    for instance in (alpha, beta):
        ledger_ok(instance)
        assert "verifies" in instance.cli("settlements", "verify", "1").stdout
    assert "settled" in alpha.cli("peers", "list").stdout
    assert len(_notices(beta)) == 1
    assert "Traceback" not in alpha.read_log() + beta.read_log()


def _notices(instance: LiveInstance) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        settings = Settings(
            data_dir=instance.data_dir, domain=instance.domain, database_url=instance.database_url
        )
        db = Database(instance.database_url)
        try:
            return await notices_to_instance(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(read())
