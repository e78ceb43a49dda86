"""Every amount a peer sends is in this instance's currency and scale, within the ceiling,
or it is refused with a clear 4xx and nothing is booked: batches, receipts, payment notices
and confirmations, peering credit limits. Two instances in process, joined by the
in-process network; documents crafted and signed with the sender's own keys."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from activitypub.settlement import (
    BatchReceipt,
    LineResult,
    PaymentConfirmation,
    PaymentNotice,
    PeeringAcceptance,
    PeeringProposal,
    build_payment_confirmation,
    build_payment_notice,
    build_peering_acceptance,
    build_peering_proposal,
    build_receipt,
    envelope_fields,
)
from server.context import context
from server.models import SettlementPayment, SettlementState, Transfer
from server.settlement.payments import mark_paid
from tests.support.accounts import make_account
from tests.support.network import Network
from tests.support.settlement import (
    batch,
    count,
    eur,
    peer,
    peer_row,
    pending,
    propose,
    seed_outgoing,
    settlements,
    speaker,
)

ALPHA, BETA = "http://alpha.test/actor", "http://beta.test/actor"
BOB = "http://beta.test/users/bob"
TOO_BIG = (2**63, 2**63 - 1, 10**15)  # past BIGINT, at its edge, one past the ceiling


def _answer(response: httpx.Response) -> tuple[str, str, str]:
    """(activity type, reason or error code, summary or message) of an inbox answer."""
    body: dict[str, Any] = response.json()
    result = body.get("result") or {}
    return (
        str(body.get("type", "")),
        str(result.get("reason") or body.get("code")),
        str(result.get("summary") or body.get("error", "")),
    )


async def test_a_batch_in_another_scale_or_past_the_ceiling_is_refused_and_books_nothing(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    bob = await make_account(beta, "bob")
    await peer(alpha, beta, network)
    keys = await speaker(alpha)
    # When alpha offers bob 0.100 EUR, written at scale 3 (once booked as 1.00 EUR, and
    # answered with a receipt echoing scale 3)
    response = await keys.post(network, "beta.test", batch(keys, BETA, [(BOB, eur(100, 3))]))
    # Then the whole batch is refused, signed, saying why; nothing is booked
    assert response.status_code == 422, response.text
    kind, reason, summary = _answer(response)
    assert (kind, reason) == ("Reject", "wrong_currency")
    assert "object.lines[0].amount is in EUR with scale 3" in summary
    assert "settles in EUR with scale 2" in summary
    assert await settlements(beta) == [] and await pending(beta, int(bob.id or 0)) == 0
    # When a line is 2^63 minor units or more, or past the ceiling
    for value in TOO_BIG:
        offer = batch(keys, BETA, [(BOB, eur(value))])
        response = await keys.post(network, "beta.test", offer)
        # Then the batch is refused as malformed, with a clear reason, and nothing is stored
        assert response.status_code == 422, (value, response.text)
        kind, reason, summary = _answer(response)
        assert (kind, reason) == ("Reject", "malformed"), value
        assert "beyond the ceiling of 999999999999999 minor units" in summary
    assert await settlements(beta) == [] and await pending(beta, int(bob.id or 0)) == 0
    # And an honest batch still takes sequence 1: the refusals used up nothing
    response = await keys.post(network, "beta.test", batch(keys, BETA, [(BOB, eur(100))]))
    assert response.status_code == 200 and _answer(response)[0] == "Accept", response.text
    assert response.json()["result"]["lines"][0]["amount"] == eur(100).to_json()
    assert await pending(beta, int(bob.id or 0)) == 100


def _notice(keys: Any, amount: Any, settles: tuple[str, ...] = ()) -> dict[str, object]:
    notice = PaymentNotice(
        **envelope_fields(keys.envelope(BETA)), amount=amount, reference="SEPA-1", settles=settles
    )
    return dict(keys.sign(build_payment_notice(notice)))


async def test_payment_notices_in_another_unit_or_to_the_debtor_are_refused(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await make_account(beta, "bob")
    await peer(alpha, beta, network)
    keys = await speaker(alpha)
    accepted = await keys.post(network, "beta.test", batch(keys, BETA, [(BOB, eur(500))]))
    assert accepted.status_code == 200, accepted.text
    # Given alpha owes beta 5.00 EUR; when alpha says it paid 5.000 EUR at scale 3, or in
    # another currency
    for amount in (eur(5000, 3), eur(500, 2, "USD"), eur(5, 0)):
        response = await keys.post(network, "beta.test", _notice(keys, amount))
        # Then the notice is refused, signed (so alpha reopens its batches), stating why
        assert response.status_code == 422, response.text
        kind, reason, summary = _answer(response)
        assert (kind, reason) == ("Reject", "wrong_currency"), amount
        assert f"object.amount is in {amount.currency} with scale {amount.scale}" in summary
    # When the notice pays 2^63 minor units or more
    for value in TOO_BIG:
        response = await keys.post(network, "beta.test", _notice(keys, eur(value)))
        assert response.status_code == 422, (value, response.text)
        kind, reason, summary = _answer(response)
        assert (kind, reason) == ("Reject", "amount_mismatch") and "ceiling" in summary
    # Then nothing was stored or booked; the batch is still open
    assert await count(beta, SettlementPayment) == 0
    assert [s.state for s in await settlements(beta)] == ["accepted"]
    # Given beta also sent alpha a batch of 9.00 EUR, which alpha accepted: now beta owes
    await seed_outgoing(beta, "alpha.test", "http://alpha.test/users/ann", 900, _ACCEPTED)
    # When alpha says it paid, while beta is the one who owes it 4.00 EUR net
    response = await keys.post(network, "beta.test", _notice(keys, eur(500)))
    # Then a clear, signed refusal says so (this was a 500)
    assert response.status_code == 422, response.text
    kind, reason, summary = _answer(response)
    assert (kind, reason) == ("Reject", "amount_mismatch")
    assert "beta.test owes alpha.test 4.00 EUR net" in summary
    result = response.json()["result"]
    assert result["expected"] == eur(0).to_json() and result["notified"] == eur(500).to_json()
    assert {s.state for s in await settlements(beta)} == {"accepted"}
    assert await count(beta, Transfer) == 1  # the credit of bob's line, nothing since


_ACCEPTED = SettlementState.accepted


async def test_answers_in_another_unit_are_refused_and_book_nothing(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await peer(alpha, beta, network)
    keys = await speaker(alpha)
    ann = "http://alpha.test/users/ann"
    # Given beta sent alpha a batch (offered) and owes it for another (accepted), and paid
    offered = await seed_outgoing(beta, "alpha.test", ann, 300, SettlementState.offered)
    await seed_outgoing(beta, "alpha.test", ann, 900, _ACCEPTED)
    payment = await mark_paid(context(beta).db, context(beta).settings, "alpha.test", 900, "SEPA-9")
    transfers = await count(beta, Transfer)
    # When alpha's receipt answers the offered batch with its line at scale 3
    receipt = BatchReceipt(
        **envelope_fields(keys.envelope(BETA)),
        offer_id=offered.uri,
        batch_digest=offered.digest,
        lines=(LineResult(ann, eur(300, 3)),),
    )
    response = await keys.post(network, "beta.test", keys.sign(build_receipt(receipt)))
    # Then it is refused with the reason, and the batch still waits for its receipt
    assert response.status_code == 422, response.text
    assert _answer(response)[1] == "wrong_currency"
    assert "result.lines[0].amount is in EUR with scale 3" in _answer(response)[2]
    # When alpha confirms beta's payment of 9.00 EUR as 0.900 EUR at scale 3 (the same
    # minor units: this was booked as a confirmation of 9.00 EUR)
    confirmation = PaymentConfirmation(
        **envelope_fields(keys.envelope(BETA)),
        notice_id=payment.uri,
        amount=eur(900, 3),
        reference="SEPA-9",
    )
    response = await keys.post(
        network, "beta.test", keys.sign(build_payment_confirmation(confirmation))
    )
    # Then it is refused too; the payment still waits, nothing is booked
    assert response.status_code == 422, response.text
    assert _answer(response)[1] == "wrong_currency"
    async with context(beta).db.session() as session:
        stored = await session.get(SettlementPayment, payment.id)
    assert stored is not None and stored.state == "notified"
    states = sorted(s.state for s in await settlements(beta))
    assert states == ["offered", "paid"]
    assert await count(beta, Transfer) == transfers


async def test_peering_credit_limits_in_another_unit_or_past_the_ceiling_are_refused(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    keys = await speaker(alpha)

    async def proposal(limit: Any) -> httpx.Response:
        document = PeeringProposal(
            **envelope_fields(keys.envelope(BETA)), currency="EUR", credit_limit=limit
        )
        return await keys.post(network, "beta.test", keys.sign(build_peering_proposal(document)))

    # When alpha proposes a credit limit of 100.000 EUR at scale 3
    response = await proposal(eur(100000, 3))
    # Then beta refuses it, signed, and keeps no such limit
    assert response.status_code == 422, response.text
    kind, reason, summary = _answer(response)
    assert (kind, reason) == ("Reject", "wrong_currency")
    assert "object.creditLimit is in EUR with scale 3" in summary
    row = await peer_row(beta, "alpha.test")
    assert (row.state, row.credit_limit) == ("ended", 0)
    # When the limit is 2^63 minor units or more, or past the ceiling
    for value in TOO_BIG:
        response = await proposal(eur(value))
        assert response.status_code == 422, (value, response.text)
        assert _answer(response)[:2] == ("Reject", "credit_limit_too_high"), value
        row = await peer_row(beta, "alpha.test")
        assert (row.state, row.credit_limit) == ("ended", 0)
    # When beta proposes to alpha, and alpha's acceptance repeats the limit at scale 3
    await propose(beta, network, "beta.test", "alpha.test")
    ours = await peer_row(beta, "alpha.test")
    acceptance = PeeringAcceptance(
        **envelope_fields(keys.envelope(BETA)),
        proposal_id=ours.proposal_uri,
        currency="EUR",
        credit_limit=eur(ours.credit_limit * 10, 3),
    )
    response = await keys.post(
        network, "beta.test", keys.sign(build_peering_acceptance(acceptance))
    )
    # Then beta refuses the acceptance; the peer is not active
    assert response.status_code == 422, response.text
    assert _answer(response)[1] == "wrong_currency"
    assert (await peer_row(beta, "alpha.test")).state == "proposed"
