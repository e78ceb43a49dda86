"""Settlement in one process, module by module: alpha.test builds a batch from what its
close holds for beta.test's creators (server.settlement.outgoing), beta.test takes a signed
batch or refuses a bad one (server.settlement.incoming), and the payment runs from alpha's
notice to beta's confirmation (server.settlement.payments). Two real apps on the in-process
network, real databases; documents signed with each instance's own keys."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from activitypub.settlement import (
    BatchReceipt,
    parse_batch_offer,
    parse_settlement_document,
    verify_document,
)
from server.context import context
from server.domain_errors import ServiceError
from server.donations.close import close_period
from server.models import (
    Direction,
    EscrowLine,
    Peer,
    PeerState,
    Settlement,
    SettlementPayment,
    SettlementState,
)
from server.settlement.documents import Receipt, SettlementRefused, loads
from server.settlement.incoming import receive_batch
from server.settlement.outgoing import prepare_batches
from server.settlement.payments import confirm_payment, mark_paid
from tests.support.accounts import make_account
from tests.support.ledger import assert_books_balance, donor, fediverse_thing, like
from tests.support.network import Network
from tests.support.settlement import batch, count, eur, peer, peer_row, pending, speaker

BOB = "http://beta.test/users/bob"
BETA_ACTOR = "http://beta.test/actor"
OCTOBER = datetime(2026, 10, 5, tzinfo=UTC)


async def _held_for_bob(alpha: Starlette, beta: Starlette, network: Network) -> int:
    """alpha and beta peered; ann on alpha liked bob's post on beta in October (4.00 EUR),
    and October closed on alpha. Returns bob's account id on beta."""
    await peer(alpha, beta, network)
    bob = await make_account(beta, "bob")
    db, settings = context(alpha).db, context(alpha).settings
    ann = await donor(db, settings, "ann", funds=1000, budget=400)
    await like(db, settings, ann, fediverse_thing(f"{BOB}/statuses/1", BOB), at=OCTOBER)
    await close_period(db, settings, "2026-10")
    return int(bob.id or 0)


async def _escrow(app: Starlette) -> list[tuple[str, str, int, int | None]]:
    async with context(app).db.session() as session:
        rows = await session.exec(
            select(
                EscrowLine.state,
                EscrowLine.creator_uri,
                EscrowLine.amount,
                EscrowLine.settlement_id,
            ).order_by(col(EscrowLine.id))
        )
        return [(str(state), uri, int(amount), sid) for state, uri, amount, sid in rows.all()]


async def _batches(app: Starlette) -> list[Settlement]:
    async with context(app).db.session() as session:
        return list((await session.exec(select(Settlement).order_by(col(Settlement.id)))).all())


async def _prepare(app: Starlette) -> list[Settlement]:
    running = context(app)
    return await prepare_batches(running.db, running.settings, running.federation.remote)


# --- outgoing: building the batch ------------------------------------------------------


async def test_the_batch_offers_what_the_close_held_signed_by_the_instance(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _held_for_bob(alpha, beta, network)
    held = await _escrow(alpha)
    assert [(state, uri, amount) for state, uri, amount, _ in held] == [("held", BOB, 400)]
    # When alpha prepares its batches
    made = await _prepare(alpha)
    # Then one batch offers beta bob's 4.00 EUR, the first of the pair, from alpha's actor
    assert len(made) == 1
    sent = made[0]
    beta_peer = await peer_row(alpha, "beta.test")
    assert (sent.peer_id, sent.direction, sent.sequence, sent.period) == (
        beta_peer.id,
        Direction.outgoing,
        1,
        "2026-10",
    )
    assert (sent.total, sent.currency, sent.state) == (400, "EUR", SettlementState.offered)
    document = loads(sent.document)
    offer = parse_batch_offer(document)
    assert offer.actor == "http://alpha.test/actor" and offer.recipient == BETA_ACTOR
    assert [(line.creator, line.amount.value, line.supporters) for line in offer.lines] == [
        (BOB, 400, 1)
    ]
    keys = await speaker(alpha)
    multibase = (await peer_row(beta, "alpha.test")).ed25519_multibase
    verify_document(document, multibase, keys.uri)
    # The escrow line is offered in that batch, and a second preparation offers nothing
    assert await _escrow(alpha) == [("offered", BOB, 400, sent.id)]
    assert await _prepare(alpha) == []
    assert len(await _batches(alpha)) == 1
    await assert_books_balance(context(alpha).db)


async def test_nothing_is_offered_to_a_peer_that_is_not_active(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _held_for_bob(alpha, beta, network)
    async with context(alpha).db.transaction() as session:
        row = (await session.exec(select(Peer).where(Peer.domain == "beta.test"))).one()
        row.state = PeerState.suspended
        session.add(row)
    assert await _prepare(alpha) == []
    assert [state for state, *_ in await _escrow(alpha)] == ["held"]


# --- incoming: receiving a signed batch, refusing a bad one ----------------------------


async def _receive(beta: Starlette, document: dict[str, object]) -> Receipt:
    running = context(beta)
    async with running.db.transaction() as session:
        row = (await session.exec(select(Peer).where(Peer.domain == "alpha.test"))).first()
        return await receive_batch(
            session, running.settings, row, parse_batch_offer(document), document
        )


async def test_a_signed_batch_credits_the_creator_once_and_answers_a_signed_receipt(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    bob = await _held_for_bob(alpha, beta, network)
    (sent,) = await _prepare(alpha)
    document = loads(sent.document)
    # When beta takes alpha's batch
    receipt = await _receive(beta, document)
    # Then bob's 4.00 EUR wait for the payment, and the answer is beta's signed receipt
    assert await pending(beta, bob) == 400
    assert receipt.answer is not None and not receipt.refused
    answer = parse_settlement_document(receipt.answer)
    assert isinstance(answer, BatchReceipt) and answer.offer_id == document["id"]
    assert [(line.creator, line.amount.value, line.rejection) for line in answer.lines] == [
        (BOB, 400, None)
    ]
    verify_document(
        receipt.answer, (await peer_row(alpha, "beta.test")).ed25519_multibase, BETA_ACTOR
    )
    (stored,) = await _batches(beta)
    assert (stored.direction, stored.total, stored.accepted_total) == (Direction.incoming, 400, 400)
    # When the same batch comes again, the same receipt answers it and nothing more is booked
    again = await _receive(beta, document)
    assert again.answer == receipt.answer
    assert await pending(beta, bob) == 400 and len(await _batches(beta)) == 1
    await assert_books_balance(context(beta).db)


async def test_a_tampered_batch_or_one_out_of_sequence_is_refused_and_books_nothing(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    bob = await _held_for_bob(alpha, beta, network)
    (sent,) = await _prepare(alpha)
    document = loads(sent.document)
    # A line raised after signing, its total restated: it parses, the proof fails
    tampered = copy.deepcopy(document)
    tampered["object"]["lines"][0]["amount"]["value"] = "40000"
    tampered["object"]["total"]["value"] = "40000"
    with pytest.raises(SettlementRefused) as refused:
        await _receive(beta, tampered)
    assert refused.value.code == "bad_proof"
    assert refused.value.document is not None
    assert refused.value.document["type"] == "Reject"
    # A batch signed by alpha but numbered 2 when beta expects 1: a gap
    keys = await speaker(alpha)
    gap = batch(keys, BETA_ACTOR, [(BOB, eur(400))], sequence=2)
    with pytest.raises(SettlementRefused) as refused:
        await _receive(beta, gap)
    assert refused.value.code == "sequence_gap"
    # From an instance that is not a peer
    async with context(beta).db.transaction() as session:
        row = (await session.exec(select(Peer).where(Peer.domain == "alpha.test"))).one()
        row.state = PeerState.ended
        session.add(row)
    with pytest.raises(SettlementRefused) as refused:
        await _receive(beta, document)
    assert refused.value.code == "not_a_peer"
    # Nothing was booked by any of them
    assert await _batches(beta) == [] and await pending(beta, bob) == 0
    await assert_books_balance(context(beta).db)


# --- payments: from the notice to the confirmation -------------------------------------


async def test_a_payment_runs_from_the_notice_to_the_confirmation(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    bob = await _held_for_bob(alpha, beta, network)
    await _prepare(alpha)
    await context(alpha).worker.drain()  # the batch goes, beta's receipt comes back
    (sent,) = await _batches(alpha)
    assert (sent.state, sent.accepted_total) == (SettlementState.accepted, 400)
    assert await pending(beta, bob) == 400
    alpha_db, alpha_settings = context(alpha).db, context(alpha).settings
    # A notice of another amount than the open balance is refused, stating the difference
    with pytest.raises(ServiceError, match=r"differs by 1\.00 EUR"):
        await mark_paid(alpha_db, alpha_settings, "beta.test", 500, "SEPA-1")
    assert await count(alpha, SettlementPayment) == 0
    # When alpha's admin says the 4.00 EUR went out, the notice reaches beta
    paid = await mark_paid(alpha_db, alpha_settings, "beta.test", 400, "SEPA-1")
    assert (paid.direction, paid.amount, paid.expected) == (Direction.outgoing, 400, 400)
    assert [b.state for b in await _batches(alpha)] == [SettlementState.paid]
    await context(alpha).worker.drain()
    async with context(beta).db.session() as session:
        (notice,) = (await session.exec(select(SettlementPayment))).all()
    assert (notice.direction, notice.amount, notice.reference, notice.state) == (
        Direction.incoming,
        400,
        "SEPA-1",
        "notified",
    )
    assert await pending(beta, bob) == 400  # held until beta's admin sees the money
    # When beta's admin confirms it, bob's money is his, and alpha learns it
    await confirm_payment(context(beta).db, context(beta).settings, int(notice.id or 0))
    await context(beta).worker.drain()
    assert await pending(beta, bob) == 0
    assert [b.state for b in await _batches(beta)] == [SettlementState.confirmed]
    assert [b.state for b in await _batches(alpha)] == [SettlementState.confirmed]
    async with context(alpha).db.session() as session:
        (ours,) = (await session.exec(select(SettlementPayment))).all()
    assert ours.state == "confirmed"
    # Confirming twice is refused
    with pytest.raises(ServiceError):
        await confirm_payment(context(beta).db, context(beta).settings, int(notice.id or 0))
    for app in (alpha, beta):
        await assert_books_balance(context(app).db)
