"""Netting and payment between peers.

Per peer, the open balance is what our accepted, unpaid batches to the peer total minus
what its accepted, unpaid batches to us total. The instance with a positive balance pays
it off the platform (a bank transfer) and says so with a signed notice that lists every
batch it settles, in both directions. The peer confirms only a notice equal to its own
view of those batches (else it refuses, stating the difference); the confirmation moves
the creators' funds from pending to available on both sides.

Ledger, payer side (A owes B X, B owes A Y, A pays P = X - Y):
  payable:B → outside world P, payable:B → receivable:B Y.
Payee side: outside world → receivable:A P, payable:A → receivable:A Y.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.settlement import (
    Amount,
    PaymentConfirmation,
    PaymentNotice,
    PaymentRefusal,
    PaymentRefusalReason,
    answer_payment,
    build_payment_confirmation,
    build_payment_notice,
    build_payment_refusal,
    envelope_fields,
    parse_payment_notice,
)
from server.db.engine import Database
from server.domain_errors import Conflict, Kind, NotFound, ValidationFailed
from server.federation.remote import domain_of
from server.models import (
    Direction,
    LedgerKind,
    LineState,
    PaymentState,
    Peer,
    PeerState,
    Settlement,
    SettlementLineRow,
    SettlementPayment,
    SettlementState,
    TransferKind,
)
from server.models.base import utcnow
from server.money.amounts import format_money
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_many, post_transfer
from server.settings import Settings
from server.settlement.documents import (
    LocalSigner,
    Receipt,
    SettlementRefused,
    UnitProblem,
    dumps,
    loads,
    local_signer,
    queue_send,
    unit_problem,
)
from server.settlement.peering import find_peer
from server.states import advance, moving


def _amount(settings: Settings, value: int) -> Amount:
    return Amount(value, settings.currency, settings.currency_scale)


async def open_batches(session: AsyncSession, peer: Peer) -> list[Settlement]:
    """Accepted batches with this peer, both directions, not yet covered by a payment."""
    rows = await session.exec(
        select(Settlement)
        .where(Settlement.peer_id == peer.id, Settlement.state == SettlementState.accepted)
        .where(col(Settlement.accepted_total) > 0)
        .order_by(col(Settlement.direction).desc(), col(Settlement.sequence))
        .with_for_update()
    )
    return list(rows.all())


def net_of(batches: Sequence[Settlement], payer: Direction) -> int:
    """What the `payer` side owes net: its batches to the other side minus theirs to it."""
    owed = sum(b.accepted_total for b in batches if b.direction == payer)
    return owed - sum(b.accepted_total for b in batches if b.direction != payer)


async def mark_paid(
    db: Database, settings: Settings, domain: str, amount: int, reference: str
) -> SettlementPayment:
    """Our admin moved `amount` to the peer: send a signed notice settling the open balance."""
    reference = reference.strip()
    if not reference or len(reference) > 200:
        raise ValidationFailed("give the transfer's reference (1 to 200 characters)")
    async with db.transaction() as session:
        peer = await find_peer(session, domain)
        await session.refresh(peer, with_for_update=True)
        if peer.state not in (PeerState.active, PeerState.suspended):
            raise Conflict(f"{domain} is {peer.state}; only a peer can be paid")
        batches = await open_batches(session, peer)
        net = net_of(batches, Direction.outgoing)
        if net <= 0:
            owed = (
                f"{domain} owes this instance {format_money(-net, settings)}" if net else "nothing"
            )
            raise Conflict(f"this instance owes {domain} nothing to pay ({owed} is open)")
        if amount != net:
            raise ValidationFailed(
                f"the open balance owed to {domain} is {format_money(net, settings)}; "
                f"{format_money(amount, settings)} differs by "
                f"{format_money(amount - net, settings)}",
                field="amount",
            )
        signer = await local_signer(session, settings)
        notice = PaymentNotice(
            **envelope_fields(signer.envelope(settings, peer.actor_uri)),
            amount=_amount(settings, amount),
            reference=reference,
            settles=tuple(b.uri for b in batches),
        )
        document = signer.sign(build_payment_notice(notice))
        payment = SettlementPayment(
            uri=notice.id,
            peer_id=peer.id or 0,
            direction=Direction.outgoing.value,
            amount=amount,
            reference=reference,
            settles=json.dumps(list(notice.settles)),
            document=dumps(document),
            expected=net,
        )
        session.add(payment)
        await session.flush()
        _cover(batches, payment)
        for batch in batches:
            session.add(batch)
        await queue_send(session, peer, document)
        return payment


def _cover(batches: Sequence[Settlement], payment: SettlementPayment) -> None:
    for batch in batches:
        advance(batch, SettlementState.paid)
        batch.payment_id = payment.id


async def receive_notice(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    notice: PaymentNotice,
    data: dict[str, object],
) -> Receipt:
    """A peer says it paid us: refuse it (stating the difference) or hold it for our admin
    (or confirm it at once when configured)."""
    existing = (
        await session.exec(select(SettlementPayment).where(SettlementPayment.uri == notice.id))
    ).first()
    if existing is not None:
        if existing.answer:
            refused = existing.state != PaymentState.confirmed
            return Receipt(loads(existing.answer), refused=refused)
        return Receipt()
    signer = await local_signer(session, settings)
    problem = unit_problem(notice, settings)
    if problem is not None and not problem.too_large:
        # Signed, so the payer reopens its batches; not stored: nothing is owed in that unit.
        reason = PaymentRefusalReason.WRONG_CURRENCY
        return Receipt(_refusal(settings, signer, notice, reason, problem.message), refused=True)
    open_ = {b.uri: b for b in await open_batches(session, peer)}
    listed = list(notice.settles) or list(open_)
    unknown = [uri for uri in listed if uri not in open_]
    payment = SettlementPayment(
        uri=notice.id,
        peer_id=peer.id or 0,
        direction=Direction.incoming.value,
        amount=notice.amount.value,
        reference=notice.reference,
        settles=json.dumps(listed),
        document=dumps(data),
    )
    if peer.state not in (PeerState.active, PeerState.suspended):
        refusal = _refusal(settings, signer, notice, PaymentRefusalReason.NOT_A_PEER, None)
    elif unknown:
        summary = f"{len(unknown)} listed batches are not open here, e.g. {unknown[0]}"
        refusal = _refusal(settings, signer, notice, PaymentRefusalReason.UNKNOWN_BATCH, summary)
    else:
        batches = [open_[uri] for uri in listed]
        payment.expected = net_of(batches, Direction.incoming)
        if problem is not None or payment.expected <= 0:
            refusal = _mismatch(settings, signer, notice, payment.expected, problem)
        else:
            answer = answer_payment(
                signer.envelope(settings, notice.actor), notice, _amount(settings, payment.expected)
            )
            if isinstance(answer, PaymentConfirmation):
                return await _hold(session, settings, signer, peer, payment, batches)
            refusal = signer.sign(build_payment_refusal(answer))
    if problem is None:  # an amount beyond the ceiling does not fit the table: not stored
        advance(payment, PaymentState.refused)
        payment.answer, payment.answered_at = dumps(refusal), utcnow()
        session.add(payment)
    return Receipt(refusal, refused=True)


def _mismatch(
    settings: Settings,
    signer: LocalSigner,
    notice: PaymentNotice,
    expected: int,
    problem: UnitProblem | None,
) -> dict[str, object]:
    """Refuse a notice that pays what is not owed: an amount beyond the ceiling, or any
    amount while this instance is the one that owes (or nothing is owed)."""
    if problem is not None:
        summary = problem.message
    elif expected < 0:
        summary = (
            f"{settings.domain} owes {domain_of(notice.actor)} {format_money(-expected, settings)}"
            " net over these batches: it is this instance that pays"
        )
    else:
        summary = "these batches net to nothing: there is nothing to pay"
    refusal = PaymentRefusal(
        **envelope_fields(signer.envelope(settings, notice.actor)),
        notice_id=notice.id,
        reason=PaymentRefusalReason.AMOUNT_MISMATCH,
        expected=_amount(settings, max(expected, 0)),
        notified=notice.amount,
        summary=summary,
    )
    return signer.sign(build_payment_refusal(refusal))


async def _hold(
    session: AsyncSession,
    settings: Settings,
    signer: LocalSigner,
    peer: Peer,
    payment: SettlementPayment,
    batches: Sequence[Settlement],
) -> Receipt:
    """A notice that pays exactly the open balance: it covers its batches, and waits for
    our admin (or is confirmed at once when configured)."""
    session.add(payment)
    await session.flush()
    _cover(batches, payment)
    for batch in batches:
        session.add(batch)
    if settings.payment_auto_confirm:
        return Receipt(await _confirm(session, settings, signer, peer, payment, send=False))
    return Receipt()


def _refusal(
    settings: Settings,
    signer: LocalSigner,
    notice: PaymentNotice,
    reason: PaymentRefusalReason,
    summary: str | None,
) -> dict[str, object]:
    refusal = PaymentRefusal(
        **envelope_fields(signer.envelope(settings, notice.actor)),
        notice_id=notice.id,
        reason=reason,
        summary=summary,
    )
    return signer.sign(build_payment_refusal(refusal))


async def _covered(session: AsyncSession, payment: SettlementPayment) -> list[Settlement]:
    rows = await session.exec(
        select(Settlement).where(Settlement.payment_id == payment.id).with_for_update()
    )
    return list(rows.all())


async def _release_pending(
    session: AsyncSession, settings: Settings, batches: Sequence[Settlement]
) -> None:
    """Incoming batches are paid: their creators' pending funds become available."""
    ids = [b.id for b in batches if b.direction == Direction.incoming]
    if not ids:
        return
    lines = (
        await session.exec(
            select(SettlementLineRow)
            .where(col(SettlementLineRow.settlement_id).in_(ids))
            .where(SettlementLineRow.state == LineState.accepted)
            .order_by(col(SettlementLineRow.id))
        )
    ).all()
    periods = {b.id: b.period for b in batches}
    owners: list[Owner] = []
    for line in lines:
        owners.append(Owner(LedgerKind.creator_pending, account_id=line.account_id))
        owners.append(Owner(LedgerKind.creator_available, account_id=line.account_id))
    accounts = await ledger_account_ids(session, settings, owners)
    specs = [
        TransferSpec(
            f"settle:avail:{line.id}",
            accounts[Owner(LedgerKind.creator_pending, account_id=line.account_id)],
            accounts[Owner(LedgerKind.creator_available, account_id=line.account_id)],
            line.amount,
            TransferKind.settlement_paid,
            periods[line.settlement_id],
        )
        for line in lines
    ]
    await post_many(session, specs)


async def _book_payment(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    payment: SettlementPayment,
    batches: Sequence[Settlement],
) -> None:
    """Both sides book the same way from their own point of view (see the module doc)."""
    payer = Direction.outgoing if payment.direction == Direction.outgoing else Direction.incoming
    netted = sum(b.accepted_total for b in batches if b.direction != payer)
    payable = Owner(LedgerKind.peer_payable, peer_domain=peer.domain)
    receivable = Owner(LedgerKind.peer_receivable, peer_domain=peer.domain)
    world = Owner(LedgerKind.outside_world)
    ids = await ledger_account_ids(session, settings, [payable, receivable, world])
    if payer == Direction.outgoing:
        cash = TransferSpec(
            f"settle:paid:{payment.id}",
            ids[payable],
            ids[world],
            payment.amount,
            TransferKind.settlement_paid,
        )
    else:
        cash = TransferSpec(
            f"settle:paid:{payment.id}",
            ids[world],
            ids[receivable],
            payment.amount,
            TransferKind.settlement_paid,
        )
    await post_transfer(session, cash)
    if netted:
        net = TransferSpec(
            f"settle:net:{payment.id}",
            ids[payable],
            ids[receivable],
            netted,
            TransferKind.settlement_netted,
        )
        await post_transfer(session, net)
    await _release_pending(session, settings, batches)
    now = utcnow()
    for batch in batches:
        advance(batch, SettlementState.confirmed)
        batch.confirmed_at = now
        session.add(batch)
    advance(payment, PaymentState.confirmed)
    payment.answered_at = now
    session.add(payment)


async def _confirm(
    session: AsyncSession,
    settings: Settings,
    signer: LocalSigner,
    peer: Peer,
    payment: SettlementPayment,
    *,
    send: bool,
) -> dict[str, object]:
    notice = parse_payment_notice(loads(payment.document))
    confirmation = PaymentConfirmation(
        **envelope_fields(signer.envelope(settings, notice.actor)),
        notice_id=notice.id,
        amount=notice.amount,
        reference=notice.reference,
    )
    document = signer.sign(build_payment_confirmation(confirmation))
    payment.answer = dumps(document)
    await _book_payment(session, settings, peer, payment, await _covered(session, payment))
    if send:
        await queue_send(session, peer, document)
    return document


async def _incoming_payment(
    session: AsyncSession, payment_id: int
) -> tuple[SettlementPayment, Peer]:
    payment = await session.get(SettlementPayment, payment_id, with_for_update=True)
    if payment is None or payment.direction != Direction.incoming:
        raise NotFound(f"no payment notice {payment_id} from a peer")
    if payment.state != PaymentState.notified:
        raise Conflict(f"payment notice {payment_id} is {payment.state} already")
    peer = await session.get(Peer, payment.peer_id)
    if peer is None:
        raise NotFound("the peer of this payment is gone")
    return payment, peer


async def confirm_payment(db: Database, settings: Settings, payment_id: int) -> SettlementPayment:
    """Our admin saw the money arrive: confirm the notice and release the creators' funds."""
    async with db.transaction() as session:
        payment, peer = await _incoming_payment(session, payment_id)
        signer = await local_signer(session, settings)
        await _confirm(session, settings, signer, peer, payment, send=True)
        return payment


async def confirm_from_statement(
    session: AsyncSession, settings: Settings, payment_id: int
) -> bool:
    """A bank statement shows the peer's transfer: confirm its notice as our admin would
    (in the statement import's transaction). False when it was confirmed before."""
    payment = await session.get(SettlementPayment, payment_id, with_for_update=True)
    if payment is None or payment.state != PaymentState.notified:
        return False
    payment, peer = await _incoming_payment(session, payment_id)
    signer = await local_signer(session, settings)
    await _confirm(session, settings, signer, peer, payment, send=True)
    return True


async def refuse_payment(
    db: Database, settings: Settings, payment_id: int, summary: str
) -> SettlementPayment:
    """Our admin did not receive the money: refuse the notice; its batches open again."""
    async with db.transaction() as session:
        payment, peer = await _incoming_payment(session, payment_id)
        signer = await local_signer(session, settings)
        notice = parse_payment_notice(loads(payment.document))
        document = _refusal(settings, signer, notice, PaymentRefusalReason.NOT_RECEIVED, summary)
        await _reopen(session, payment, document)
        await queue_send(session, peer, document)
        return payment


async def _reopen(
    session: AsyncSession, payment: SettlementPayment, answer: dict[str, object]
) -> None:
    table = Settlement.__table__  # type: ignore[attr-defined]
    await session.exec(
        update(table)
        .where(table.c.payment_id == payment.id)
        .where(moving(table.c.state, SettlementState.paid, to=SettlementState.accepted))
        .values(state=SettlementState.accepted.value, payment_id=None)
    )
    advance(payment, PaymentState.refused)
    payment.answer = dumps(answer)
    payment.answered_at = utcnow()
    session.add(payment)


async def apply_payment_answer(
    session: AsyncSession,
    settings: Settings,
    peer: Peer,
    answer: PaymentConfirmation | PaymentRefusal,
    data: dict[str, object],
) -> None:
    """The peer's answer to our notice; a repeat changes nothing."""
    payment = (
        await session.exec(
            select(SettlementPayment)
            .where(SettlementPayment.uri == answer.notice_id, SettlementPayment.peer_id == peer.id)
            .where(SettlementPayment.direction == Direction.outgoing)
            .with_for_update()
        )
    ).first()
    if payment is None:
        raise SettlementRefused(
            Kind.not_found, "unknown_payment", "this answers no payment notice of ours"
        )
    if payment.state != PaymentState.notified:
        return
    if isinstance(answer, PaymentRefusal):
        await _reopen(session, payment, data)
        return
    if answer.amount != _amount(settings, payment.amount) or answer.reference != payment.reference:
        raise SettlementRefused(
            Kind.invalid, "malformed", "the confirmation repeats another amount"
        )
    payment.answer = dumps(data)
    await _book_payment(session, settings, peer, payment, await _covered(session, payment))
