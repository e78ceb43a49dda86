"""Every attack on the receiving side of settlement gets a clear refusal and changes
nothing: real instances on loopback, documents crafted with the sender's own keys."""

from __future__ import annotations

from typing import Any

import httpx

from activitypub.settlement import (
    BatchOffer,
    PaymentNotice,
    SettlementLine,
    build_batch_offer,
    build_payment_notice,
    envelope_fields,
)
from tests.support.instances import LiveInstance
from tests.support.live import (
    FAST,
    Start,
    creator_balances,
    instance_keys,
    ledger_ok,
    money,
    peer,
    post_signed,
    user,
)
from tests.support.settlement import Speaker


def _batch(
    keys: Speaker,
    target: LiveInstance,
    lines: list[tuple[str, int]],
    *,
    sequence: int = 1,
    currency: str = "EUR",
) -> dict[str, object]:
    offer = BatchOffer(
        **envelope_fields(keys.envelope(f"{target.base_url}/actor")),
        period="2026-10",
        sequence=sequence,
        currency=currency,
        lines=tuple(
            SettlementLine(
                creator,
                money(amount) if currency == "EUR" else _unit(amount, currency),
                1,
                (f"{keys.uri}/clicks/{index}",),
            )
            for index, (creator, amount) in enumerate(lines)
        ),
    )
    return keys.sign(build_batch_offer(offer))


def _unit(amount: int, currency: str) -> Any:
    from activitypub.settlement import Amount

    return Amount(amount, currency, 2)


def _reason(response: httpx.Response) -> str:
    result = response.json().get("result", {})
    return str(result.get("reason") or response.json().get("code"))


def test_attacks_on_a_receiving_instance_change_nothing(instances: Start) -> None:
    alpha, beta, gamma = (instances(env=FAST) for _ in range(3))
    bob = user(beta, "bob")
    peer(alpha, beta)
    keys, outsider = instance_keys(alpha), instance_keys(gamma)
    bob_uri = f"{beta.base_url}/users/bob"
    ghost = f"{beta.base_url}/users/nobody"

    def unchanged() -> None:
        assert creator_balances(beta, bob) == (0, 0)

    # Tampered amount: the HTTP signature covers the tampered body, the proof does not.
    tampered = _batch(keys, beta, [(bob_uri, 500)])
    lines: Any = tampered["object"]
    lines["lines"][0]["amount"]["value"] = "50000"
    lines["total"]["value"] = "50000"
    response = post_signed(beta, tampered, keys)
    assert response.status_code == 401 and _reason(response) == "bad_proof"
    unchanged()

    # A valid proof by alpha, but the request signed by another instance.
    honest = _batch(keys, beta, [(bob_uri, 500), (ghost, 100)])
    response = post_signed(beta, honest, outsider)
    assert response.status_code == 401 and _reason(response) == "wrong_signer"
    unchanged()

    # A non-peer sends a batch of its own, properly signed.
    response = post_signed(beta, _batch(outsider, beta, [(bob_uri, 500)]), outsider)
    assert response.status_code == 403 and _reason(response) == "not_a_peer"
    assert "not a peer" in response.json()["result"]["summary"]
    unchanged()

    # Wrong currency, and a skipped sequence number.
    response = post_signed(beta, _batch(keys, beta, [(bob_uri, 500)], currency="USD"), keys)
    assert response.status_code == 422 and _reason(response) == "wrong_currency"
    response = post_signed(beta, _batch(keys, beta, [(bob_uri, 500)], sequence=2), keys)
    assert response.status_code == 409 and _reason(response) == "sequence_gap"
    unchanged()

    # No signature, a bad one, malformed JSON: plain 4xx errors.
    assert httpx.post(f"{beta.base_url}/actor/inbox", json=honest).status_code == 401
    assert post_signed(beta, None, keys, raw=b"{not json").status_code == 400

    # The honest batch: bob's line is credited, the line for a creator who does not exist
    # is rejected with its reason (and stays the sender's money).
    response = post_signed(beta, honest, keys)
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["type"] == "Accept" and receipt["object"] == honest["id"]
    results = {line["creator"]: line for line in receipt["result"]["lines"]}
    assert results[bob_uri]["status"] == "accepted"
    assert results[ghost] == {**results[ghost], "status": "rejected", "reason": "unknown_creator"}
    assert creator_balances(beta, bob) == (500, 0)

    # Replays: the same batch gets the same receipt; another batch with a used sequence
    # number is refused.
    again = post_signed(beta, honest, keys)
    assert again.status_code == 200 and again.json() == receipt
    response = post_signed(beta, _batch(keys, beta, [(bob_uri, 700)]), keys)
    assert response.status_code == 409 and _reason(response) == "sequence_conflict"
    assert creator_balances(beta, bob) == (500, 0)

    # A payment notice for more than is owed is refused, stating the difference.
    notice = PaymentNotice(
        **envelope_fields(keys.envelope(f"{beta.base_url}/actor")),
        amount=money(600),
        reference="SEPA-too-much",
        settles=(str(honest["id"]),),
    )
    response = post_signed(beta, keys.sign(build_payment_notice(notice)), keys)
    assert response.status_code == 422, response.text
    result = response.json()["result"]
    assert result["reason"] == "amount_mismatch"
    assert result["expected"]["value"] == "500" and result["difference"]["value"] == "100"
    assert creator_balances(beta, bob) == (500, 0)
    ledger_ok(beta)
    assert "Traceback" not in beta.read_log()
