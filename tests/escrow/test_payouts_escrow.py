from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import xmlschema  # noqa: F401  (export(validate=True) needs it)
from sqlmodel import select

from server.db.engine import Database
from server.domain_errors import Conflict, Forbidden, ValidationFailed
from server.donations.close import close_period
from server.escrow.escrow import claim_identity, expire_escrow
from server.models import Actor, EscrowLine, Identity, LedgerKind, Payout, TransferKind
from server.money.funding import Funding, credit_wallet
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from server.money.payouts import (
    Debtor,
    PayoutRequest,
    approve_payout,
    confirm_batch,
    export_batch,
    reject_payout,
    request_payout,
)
from server.settings import Settings
from tests.support.ledger import (
    assert_books_balance,
    available,
    balance,
    donor,
    like,
    wallet,
    web_thing,
)

OCT = datetime(2026, 10, 10, tzinfo=UTC)
IBAN = "DE89 3704 0044 0532 0130 00"
DEBTOR = Debtor("Likewise Instance e.V.", "DE02120300000000202051", "BYLADEM1001")


async def _give(db: Database, settings: Settings, account_id: int, amount: int) -> None:
    """Put money on a creator's available balance (as a close would)."""
    async with db.transaction() as session:
        world, target = Owner(LedgerKind.outside_world), available(account_id)
        ids = await ledger_account_ids(session, settings, [world, target])
        await post_transfer(
            session,
            TransferSpec(
                f"gift:{account_id}", ids[world], ids[target], amount, TransferKind.funding
            ),
        )


async def test_escrow_returns_to_donors_pro_rata_after_the_escrow_time(
    db: Database, settings: Settings
) -> None:
    ann = await donor(db, settings, "ann", funds=1000, budget=300)
    bob = await donor(db, settings, "bob", funds=1000, budget=600)
    for who in (ann, bob):
        await like(db, settings, who, web_thing("https://blog.example/a"), at=OCT)
    await close_period(db, settings, "2026-10")
    async with db.transaction() as session:
        assert await expire_escrow(session, settings) == 0  # too early
    later = datetime.now(UTC) + timedelta(days=settings.escrow_days + 1)
    async with db.transaction() as session:
        assert await expire_escrow(session, settings, later) == 900
    async with db.transaction() as session:
        assert await expire_escrow(session, settings, later) == 0  # nothing twice
    assert await balance(db, settings, wallet(ann)) == 1000
    assert await balance(db, settings, wallet(bob)) == 1000
    await assert_books_balance(db)


async def test_claiming_an_identity_moves_its_escrow(db: Database, settings: Settings) -> None:
    ann = await donor(db, settings, "ann", funds=1000, budget=400)
    cat = await donor(db, settings, "cat")
    await like(
        db, settings, ann, web_thing("https://cat.example/post", "https://cat.example"), at=OCT
    )
    await close_period(db, settings, "2026-10")
    async with db.session() as session:
        identity = (await session.exec(select(Identity))).one()
    with pytest.raises(Forbidden):
        async with db.transaction() as session:
            await claim_identity(session, settings, int(identity.id or 0), cat)
    async with db.transaction() as session:
        claim = await claim_identity(session, settings, int(identity.id or 0), cat, verified=True)
    assert claim.moved == 400 and not claim.already_claimed
    assert await balance(db, settings, available(cat)) == 400
    async with db.session() as session:
        assert {line.state for line in (await session.exec(select(EscrowLine))).all()} == {
            "claimed"
        }
    await assert_books_balance(db)


async def test_own_fediverse_actor_can_be_claimed_without_an_admin(
    db: Database, settings: Settings
) -> None:
    cat = await donor(db, settings, "cat")
    async with db.session() as session:
        uri = (await session.exec(select(Actor.uri).where(Actor.account_id == cat))).one()
    async with db.transaction() as session:
        session.add(Identity(network="fediverse", external_id=uri))
    async with db.transaction() as session:
        identity = (await session.exec(select(Identity))).one()
        claim = await claim_identity(session, settings, int(identity.id or 0), cat)
    assert claim.moved == 0 and not claim.already_claimed


async def test_a_payout_goes_from_request_to_paid(db: Database, settings: Settings) -> None:
    cat = await donor(db, settings, "cat")
    await _give(db, settings, cat, 5000)
    async with db.transaction() as session:
        payout = await request_payout(session, settings, PayoutRequest(cat, 3000, IBAN, "Cat Doe"))
    assert await balance(db, settings, available(cat)) == 2000
    async with db.transaction() as session:
        await approve_payout(session, int(payout.id or 0))
    async with db.transaction() as session:
        batch = await export_batch(session, settings, DEBTOR)
    assert "pain.001.001.03" in batch.document and '<InstdAmt Ccy="EUR">30.00' in batch.document
    async with db.transaction() as session:
        await confirm_batch(session, settings, int(batch.id or 0))
        await confirm_batch(session, settings, int(batch.id or 0))  # twice: books once
    async with db.session() as session:
        assert (await session.get(Payout, payout.id)).state == "paid"  # type: ignore[union-attr]
    assert await balance(db, settings, Owner(LedgerKind.payouts_in_flight)) == 0
    await assert_books_balance(db)


@pytest.mark.parametrize(
    ("amount", "iban", "name", "error"),
    [
        (500, IBAN, "Cat", ValidationFailed),  # below the minimum
        (3000, "DE00 1234", "Cat", ValidationFailed),  # bad IBAN
        (3000, IBAN, "", ValidationFailed),  # no name
        (9000, IBAN, "Cat", Conflict),  # above available
    ],
)
async def test_bad_payout_requests_change_nothing(
    db: Database, settings: Settings, amount: int, iban: str, name: str, error: type[Exception]
) -> None:
    cat = await donor(db, settings, "cat")
    await _give(db, settings, cat, 5000)
    with pytest.raises(error):
        async with db.transaction() as session:
            await request_payout(session, settings, PayoutRequest(cat, amount, iban, name))
    assert await balance(db, settings, available(cat)) == 5000
    async with db.session() as session:
        assert (await session.exec(select(Payout))).all() == []


async def test_a_rejected_payout_returns_the_money(db: Database, settings: Settings) -> None:
    cat = await donor(db, settings, "cat")
    await _give(db, settings, cat, 5000)
    async with db.transaction() as session:
        payout = await request_payout(session, settings, PayoutRequest(cat, 3000, IBAN, "Cat"))
    async with db.transaction() as session:
        await reject_payout(session, settings, int(payout.id or 0), "wrong name")
    with pytest.raises(Conflict):
        async with db.transaction() as session:
            await approve_payout(session, int(payout.id or 0))
    assert await balance(db, settings, available(cat)) == 5000
    async with db.transaction() as session:
        await credit_wallet(session, settings, Funding(cat, 100, "x"))
    await assert_books_balance(db)
