"""Settlement rules between live instances: rejected lines come back to the sender's
escrow, the credit limit holds shares back until a payment makes room, and a batch that
no receipt answers in time is flagged."""

from __future__ import annotations

import time

from sqlmodel import select

from server.models import EscrowLine
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
    listed,
    peer,
    post,
    rows,
    user,
)


def _escrow(instance: LiveInstance) -> list[EscrowLine]:
    return rows(instance, select(EscrowLine))


def test_rejected_lines_return_and_the_credit_limit_holds_shares_back(instances: Start) -> None:
    alpha = instances(env={**FAST, "LIKEWISE_SETTLEMENT_RECEIPT_HOURS": "0.0003"})
    beta = instances(env=FAST)
    ann, dan = user(alpha, "ann"), user(alpha, "dan")
    creators = {name: user(beta, name) for name in ("bob", "cat", "eve")}
    for name in ("ann", "dan"):
        alpha.cli("wallet", "credit", name, "10.00", "--reference", f"bank-{name}")
    peer(alpha, beta, "--credit-limit", "6.00")
    uris = {name: post(beta, auth, f"by {name}")["uri"] for name, auth in creators.items()}
    like(alpha, ann, uris["bob"])
    like(alpha, ann, uris["cat"])
    like(alpha, dan, uris["eve"])
    beta.cli("users", "suspend", "bob")
    # bob 2.50 and cat 2.50 fit the 6.00 limit; eve's 5.00 waits. The close queues the
    # batch by itself; beta is down, so it gets no receipt and is flagged.
    beta.stop()
    close(alpha)
    eventually(lambda: _batch(alpha, "1").get("total") == "5.00 EUR")
    time.sleep(1.5)
    assert "no receipt yet" in alpha.cli("settlements", "list").stdout
    beta.start()
    eventually(lambda: creator_balances(beta, creators["cat"]) == (250, 0))
    assert creator_balances(beta, creators["eve"]) == (0, 0)
    # bob is suspended: his line was rejected and came back to alpha's escrow for him.
    bob_lines = eventually(
        lambda: [
            e for e in _escrow(alpha) if e.creator_uri.endswith("/users/bob") and not e.peer_domain
        ]
    )
    assert [(e.state, e.amount) for e in bob_lines] == [("held", 250)]
    eve_lines = [e for e in _escrow(alpha) if e.creator_uri.endswith("/users/eve")]
    assert [(e.state, e.peer_domain) for e in eve_lines] == [("held", beta.domain)]
    assert "nothing to send" in alpha.cli("settlements", "send").stdout
    # Paying the open 2.50 makes room: eve's share goes in batch 2.
    alpha.cli("settlements", "mark-paid", beta.domain, "2.50", "--reference", "SEPA-1")
    beta.cli("settlements", "confirm", eventually(lambda: incoming_notice(beta)))
    eventually(lambda: creator_balances(beta, creators["cat"]) == (0, 250))
    eventually(lambda: "settled" in alpha.cli("peers", "list").stdout)
    assert "batch 2: 5.00 EUR queued" in alpha.cli("settlements", "send").stdout
    eventually(lambda: creator_balances(beta, creators["eve"]) == (500, 0))
    for instance in (alpha, beta):
        ledger_ok(instance)
        assert "Traceback" not in instance.read_log()


def _batch(instance: LiveInstance, sequence: str) -> dict[str, str]:
    """The outgoing batch `sequence` as `settlements list --json` shows it ({} if none)."""
    for row in listed(instance, "settlements", "list"):
        if row["kind"] == "batch" and row["dir"] == "out" and row["seq"] == sequence:
            return row
    return {}
