"""Settlement between real instances on loopback: peering, batches, receipts, payment."""

from __future__ import annotations

from tests.federation.settlement_support import (
    FAST,
    Start,
    close,
    creator_balances,
    eventually,
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
    peer(alpha, beta)
    status = post(beta, bob, "a post worth supporting")
    like(alpha, ann, status["uri"])
    close(alpha)
    sent = alpha.cli("settlements", "send").stdout
    assert "batch 1: 5.00 EUR queued" in sent
    eventually(lambda: creator_balances(beta, bob) == (500, 0))
    listed = alpha.cli("settlements", "list").stdout
    assert "accepted" in listed
    alpha.cli("settlements", "mark-paid", beta.domain, "5.00", "--reference", "SEPA-1")
    payment = eventually(lambda: _payment_id(beta))
    beta.cli("settlements", "confirm", payment)
    eventually(lambda: creator_balances(beta, bob) == (0, 500))
    eventually(lambda: "confirmed" in alpha.cli("settlements", "list").stdout)
    for instance in (alpha, beta):
        ledger_ok(instance)
        assert "verifies" in instance.cli("settlements", "verify", "1").stdout
    assert "settled" in alpha.cli("peers", "list").stdout
    assert "Traceback" not in alpha.read_log() + beta.read_log()


def _payment_id(instance: object) -> str:
    from tests.support.instances import LiveInstance

    assert isinstance(instance, LiveInstance)
    for line in instance.cli("settlements", "list").stdout.splitlines():
        parts = line.replace("│", " ").split()
        if parts and parts[0].isdigit() and "notified" in line and " in " in f" {line} ":
            return parts[0]
    return ""
