"""Receiving settlement batches: a batch from an active peer in our currency and with the
next sequence number credits each accepted line to the local creator's *pending* balance
against what the peer owes us, and is answered with a signed receipt, stored with the
batch. A duplicate gets the stored receipt again; nothing is booked twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.settlement import (
    BatchOffer,
    BatchRejection,
    BatchRejectionReason,
    LineRejection,
    batch_digest,
    build_batch_rejection,
    build_receipt,
    envelope_fields,
    make_receipt,
)
from server.db.bulk import insert_rows
from server.domain_errors import Kind
from server.federation.remote import domain_of
from server.models import (
    Account,
    Actor,
    Direction,
    LedgerKind,
    LineState,
    Peer,
    PeerState,
    Settlement,
    SettlementState,
    TransferKind,
)
from server.models.base import utcnow
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_many
from server.settings import Settings
from server.settlement.documents import (
    LocalSigner,
    Receipt,
    SettlementRefused,
    check_proof,
    dumps,
    loads,
    local_signer,
    unit_problem,
)
from server.settlement.outgoing import LINE_COLUMNS, LINE_PG_TYPES, chunks, next_sequence
from server.settlement.peering import peer_balance


def _refuse(
    settings: Settings,
    signer: LocalSigner,
    offer: BatchOffer,
    kind: Kind,
    reason: BatchRejectionReason,
    summary: str,
) -> SettlementRefused:
    rejection = BatchRejection(
        **envelope_fields(signer.envelope(settings, offer.actor)),
        offer_id=offer.id,
        reason=reason,
        summary=summary,
    )
    document = signer.sign(build_batch_rejection(rejection))
    return SettlementRefused(kind, reason.value, summary, document)


async def _creators(
    session: AsyncSession, uris: Sequence[str]
) -> dict[str, tuple[int, bool, bool]]:
    """creator URI → (account id, suspended, deleted) for local accounts."""
    found: dict[str, tuple[int, bool, bool]] = {}
    for part in chunks(sorted(set(uris))):
        rows = await session.exec(
            select(Actor.uri, Account.id, Account.suspended_at, Actor.tombstoned_at)
            .join(Account, col(Account.id) == col(Actor.account_id))
            .where(col(Actor.uri).in_(part), col(Actor.is_local).is_(True))
        )
        for uri, account_id, suspended_at, tombstoned_at in rows.all():
            found[uri] = (int(account_id or 0), suspended_at is not None, tombstoned_at is not None)
    return found


async def receive_batch(
    session: AsyncSession,
    settings: Settings,
    peer: Peer | None,
    offer: BatchOffer,
    data: dict[str, object],
) -> Receipt:
    """Check, credit and answer a peer's batch; refusals raise with a signed Reject."""
    signer = await local_signer(session, settings)
    if peer is None or peer.state != PeerState.active:
        state = "not a peer" if peer is None else f"a {peer.state} peer"
        summary = f"{domain_of(offer.actor)} is {state} of {settings.domain}"
        raise _refuse(
            settings, signer, offer, Kind.forbidden, BatchRejectionReason.NOT_A_PEER, summary
        )
    try:
        check_proof(data, peer)
    except SettlementRefused as refused:
        raise _refuse(
            settings,
            signer,
            offer,
            Kind.unauthorized,
            BatchRejectionReason.BAD_PROOF,
            refused.message,
        ) from refused
    digest = batch_digest(data)
    existing = (await session.exec(select(Settlement).where(Settlement.uri == offer.id))).first()
    if existing is not None:
        if (
            existing.digest == digest
            and existing.direction == Direction.incoming
            and existing.answer
        ):
            return Receipt(loads(existing.answer))
        summary = f"batch {offer.id} was received before with other contents"
        raise _refuse(
            settings, signer, offer, Kind.conflict, BatchRejectionReason.SEQUENCE_CONFLICT, summary
        )
    if offer.currency != settings.currency or offer.currency != peer.currency:
        summary = f"this instance settles in {settings.currency}, the batch is in {offer.currency}"
        raise _refuse(
            settings, signer, offer, Kind.refused, BatchRejectionReason.WRONG_CURRENCY, summary
        )
    problem = unit_problem(offer, settings)
    if problem is not None:
        reason = (
            BatchRejectionReason.MALFORMED
            if problem.too_large
            else BatchRejectionReason.WRONG_CURRENCY
        )
        raise _refuse(settings, signer, offer, Kind.refused, reason, problem.message)
    expected = await next_sequence(session, peer, Direction.incoming)
    if offer.sequence != expected:
        reason = (
            BatchRejectionReason.SEQUENCE_GAP
            if offer.sequence > expected
            else BatchRejectionReason.SEQUENCE_CONFLICT
        )
        summary = f"expected sequence {expected}, got {offer.sequence}"
        raise _refuse(settings, signer, offer, Kind.conflict, reason, summary)
    return Receipt(await _credit(session, settings, signer, peer, offer, data, digest))


async def _credit(
    session: AsyncSession,
    settings: Settings,
    signer: LocalSigner,
    peer: Peer,
    offer: BatchOffer,
    data: dict[str, object],
    digest: str,
) -> dict[str, object]:
    creators = await _creators(session, [line.creator for line in offer.lines])
    room = peer.credit_limit - (await peer_balance(session, settings, peer)).they_owe
    rejections: dict[str, LineRejection] = {}
    for line in offer.lines:
        found = creators.get(line.creator)
        if found is None:
            rejections[line.creator] = LineRejection.UNKNOWN_CREATOR
        elif found[2]:
            rejections[line.creator] = LineRejection.DELETED_CREATOR
        elif found[1]:
            rejections[line.creator] = LineRejection.SUSPENDED_CREATOR
        elif line.amount.value > room:
            rejections[line.creator] = LineRejection.CREDIT_LIMIT_EXCEEDED
        else:
            room -= line.amount.value
    receipt = make_receipt(signer.envelope(settings, offer.actor), offer, digest, rejections)
    answer = signer.sign(build_receipt(receipt))
    settlement = Settlement(
        uri=offer.id,
        peer_id=peer.id or 0,
        direction=Direction.incoming.value,
        period=offer.period,
        sequence=offer.sequence,
        currency=offer.currency,
        total=offer.total.value,
        accepted_total=receipt.accepted_total.value,
        rejected_total=receipt.rejected_total.value,
        state=SettlementState.accepted,
        document=dumps(data),
        digest=digest,
        answer=dumps(answer),
        answered_at=utcnow(),
    )
    session.add(settlement)
    await session.flush()
    sid = settlement.id or 0
    rows = []
    for i, line in enumerate(offer.lines):
        reason = rejections.get(line.creator)
        account = creators[line.creator][0] if line.creator in creators else None
        state = LineState.rejected if reason else LineState.accepted
        rows.append(
            (
                sid,
                i,
                line.creator,
                account,
                None,
                line.amount.value,
                line.supporters,
                state.value,
                reason.value if reason else "",
            )
        )
    await insert_rows(session, "settlement_line", LINE_COLUMNS, rows, LINE_PG_TYPES)
    accepted = [(i, line) for i, line in enumerate(offer.lines) if line.creator not in rejections]
    source = Owner(LedgerKind.peer_receivable, peer_domain=peer.domain)
    owners = [source] + [
        Owner(LedgerKind.creator_pending, account_id=creators[line.creator][0])
        for _, line in accepted
    ]
    ids = await ledger_account_ids(session, settings, owners)
    specs = [
        TransferSpec(
            f"settle:in:{sid}:{i}",
            ids[source],
            ids[Owner(LedgerKind.creator_pending, account_id=creators[line.creator][0])],
            line.amount.value,
            TransferKind.settlement_credit,
            offer.period,
        )
        for i, line in accepted
    ]
    await post_many(session, specs)
    return answer
