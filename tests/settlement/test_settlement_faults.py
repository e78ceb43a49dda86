"""Settlement under faults, and netting between three instances: every cent is booked
exactly once on each side."""

from __future__ import annotations

import time
from functools import partial

from sqlmodel import select

from server.models import Direction, Settlement
from tests.support.instances import LiveInstance
from tests.support.live import (
    FAST,
    Start,
    close,
    creator_balances,
    eventually,
    incoming_notice,
    instance_keys,
    is_down,
    ledger_ok,
    like,
    listed,
    me,
    peer,
    peer_row,
    peer_state,
    post,
    post_signed,
    rows,
    user,
)


def _sent_batches(instance: LiveInstance) -> list[Settlement]:
    return rows(instance, select(Settlement).where(Settlement.direction == Direction.outgoing))


def test_receiver_down_sender_killed_and_batch_delivered_three_times(instances: Start) -> None:
    automatic = {"LIKEWISE_PEER_AUTO_ACCEPT": "true", "LIKEWISE_PAYMENT_AUTO_CONFIRM": "true"}
    alpha, beta = instances(env=FAST), instances(env={**FAST, **automatic})
    ann, bob = user(alpha, "ann"), user(beta, "bob")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    # beta accepts proposals in its currency without an admin.
    alpha.cli("peers", "add", beta.domain)
    eventually(lambda: peer_state(alpha, beta.domain) == "active")
    like(alpha, ann, post(beta, bob, "first post")["uri"])
    # The sender's server is killed; its admin closes the month and signs and queues the
    # batch (the close queued the same work for the worker: it finds nothing left).
    # The receiver is down when the sender comes back.
    alpha.kill()
    close(alpha)
    assert "batch 1: 5.00 EUR queued" in alpha.cli("settlements", "send").stdout
    beta.stop()
    alpha.start()
    time.sleep(2.0)  # a few failed attempts
    assert is_down(beta)
    beta.start()
    eventually(lambda: creator_balances(beta, bob) == (500, 0))
    eventually(lambda: _sent_batches(alpha)[0].state == "accepted")
    # The same signed batch delivered twice more: the same receipt, nothing booked again.
    batch = _sent_batches(alpha)[0]
    keys = instance_keys(alpha)
    first = post_signed(beta, None, keys, raw=batch.document.encode())
    second = post_signed(beta, None, keys, raw=batch.document.encode())
    assert first.status_code == second.status_code == 200
    assert (
        first.json() == second.json() and first.json()["result"]["acceptedTotal"]["value"] == "500"
    )
    assert creator_balances(beta, bob) == (500, 0)
    assert me(alpha, ann)["wallet"]["value"] == "500"
    for instance in (alpha, beta):
        ledger_ok(instance)
    statement = alpha.cli("peers", "statement", beta.domain).stdout
    assert "this instance owes" in statement and "5.00 EUR" in statement
    # beta confirms a matching payment notice without an admin.
    alpha.cli("settlements", "mark-paid", beta.domain, "5.00", "--reference", "SEPA-1")
    eventually(lambda: creator_balances(beta, bob) == (0, 500))
    eventually(
        lambda: "open balance: settled" in alpha.cli("peers", "statement", beta.domain).stdout
    )
    for instance in (alpha, beta):
        ledger_ok(instance)


def test_three_instances_both_directions_net_per_pair(instances: Start) -> None:
    alpha, beta, gamma = (instances(env=FAST) for _ in range(3))
    auth = {i.domain: user(i, name) for i, name in ((alpha, "ann"), (beta, "bob"), (gamma, "gil"))}
    for instance, name in ((alpha, "ann"), (beta, "bob"), (gamma, "gil")):
        instance.cli("wallet", "credit", name, "10.00", "--reference", "bank-1")
    peer(alpha, beta)
    peer(beta, gamma)
    peer(gamma, alpha)
    posts = {i.domain: post(i, auth[i.domain], "support me")["uri"] for i in (alpha, beta, gamma)}
    # ann likes bob and gil (2.50 each); bob likes ann (5.00); gil likes bob (5.00).
    like(alpha, auth[alpha.domain], posts[beta.domain])
    like(alpha, auth[alpha.domain], posts[gamma.domain])
    like(beta, auth[beta.domain], posts[alpha.domain])
    like(gamma, auth[gamma.domain], posts[beta.domain])
    for instance in (alpha, beta, gamma):
        close(instance)
        instance.cli("settlements", "send")
    eventually(lambda: creator_balances(beta, auth[beta.domain]) == (750, 0))
    eventually(lambda: creator_balances(alpha, auth[alpha.domain]) == (500, 0))
    eventually(lambda: creator_balances(gamma, auth[gamma.domain]) == (250, 0))
    # alpha↔beta: alpha owes 2.50, beta owes 5.00 → beta pays alpha 2.50 net.
    assert _net(alpha, beta) == "they pay 2.50 EUR"
    assert _net(beta, alpha) == "we pay 2.50 EUR"
    # beta↔gamma: gamma owes 5.00. gamma↔alpha: alpha owes 2.50.
    assert _net(beta, gamma) == "they pay 5.00 EUR"
    assert _net(alpha, gamma) == "we pay 2.50 EUR"
    # A notice that is not the net balance is refused locally, stating the difference.
    wrong = beta.cli(
        "settlements", "mark-paid", alpha.domain, "5.00", "--reference", "x", check=False
    )
    assert wrong.returncode != 0 and "differs by 2.50 EUR" in wrong.stderr
    for payer, payee, amount in (
        (beta, alpha, "2.50"),
        (gamma, beta, "5.00"),
        (alpha, gamma, "2.50"),
    ):
        payer.cli("settlements", "mark-paid", payee.domain, amount, "--reference", f"SEPA-{amount}")
        payment = eventually(partial(incoming_notice, payee))
        payee.cli("settlements", "confirm", payment)
    eventually(lambda: creator_balances(beta, auth[beta.domain]) == (0, 750))
    eventually(lambda: creator_balances(alpha, auth[alpha.domain]) == (0, 500))
    eventually(lambda: creator_balances(gamma, auth[gamma.domain]) == (0, 250))
    for instance in (alpha, beta, gamma):
        eventually(partial(_all_settled, instance))
        ledger_ok(instance)
        assert "Traceback" not in instance.read_log()


def _net(instance: LiveInstance, other: LiveInstance) -> str:
    return peer_row(instance, other.domain)["net"]


def _all_settled(instance: LiveInstance) -> bool:
    peers = [row for row in listed(instance, "peers", "list") if row["kind"] == "peer"]
    return bool(peers) and all(row["net"] == "settled" for row in peers)
