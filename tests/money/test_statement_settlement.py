"""A peer's settlement payment confirmed from the payee's bank statement: alpha.test owes
beta.test 4.00 EUR for bob's share, pays by bank transfer and sends its signed payment
notice (reference and amount); beta imports its camt.053 statement, and the credit whose
remittance carries that reference, for that amount, confirms the notice through the
settlement's own confirm step: bob's pending money becomes available, alpha learns it, and
importing the statement again (or confirming twice) changes nothing. Two real instances on
the in-process network, each with its own database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.domain_errors import ServiceError
from server.donations import bank_admin
from server.models import SettlementPayment, SettlementState
from server.models.money_in import BankCredit, BankCreditState
from server.settlement.payments import confirm_payment, mark_paid, refuse_payment
from tests.settlement.test_batches_in_process import _batches, _held_for_bob, _prepare
from tests.support.ledger import assert_books_balance
from tests.support.network import Network
from tests.support.settlement import pending

DATA = Path(__file__).resolve().parents[1] / "data" / "bank"
REFERENCE = "LW-SETTLE 2026-10 beta"


def _statement(reference: str) -> bytes:
    return (DATA / "camt053_settlement.xml").read_text().replace("{settlement}", reference).encode()


async def _import(app: Starlette, data: bytes) -> int:
    running = context(app)
    upload = bank_admin.StatementFile("day3.xml", data, None)
    return await bank_admin.import_statement(running.db, running.settings, upload)


async def _owed_and_notified(alpha: Starlette, beta: Starlette, network: Network) -> int:
    """alpha's batch accepted by beta, alpha's notice of its 4.00 EUR transfer at beta;
    bob's account id on beta."""
    bob = await _held_for_bob(alpha, beta, network)
    await _prepare(alpha)
    await context(alpha).worker.drain()
    running = context(alpha)
    await mark_paid(running.db, running.settings, "beta.test", 400, REFERENCE)
    await running.worker.drain()
    assert await pending(beta, bob) == 400
    return bob


async def _notice(app: Starlette) -> SettlementPayment:
    async with context(app).db.session() as session:
        (notice,) = (await session.exec(select(SettlementPayment))).all()
    return notice


async def _credits(app: Starlette) -> list[BankCredit]:
    async with context(app).db.session() as session:
        rows = await session.exec(select(BankCredit).order_by(col(BankCredit.id)))
        return list(rows.all())


async def test_a_statement_credit_confirms_the_peers_payment_notice(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    bob = await _owed_and_notified(alpha, beta, network)
    # When beta previews its statement (the reference typed in other case and spacing)
    first = await _import(beta, _statement("lw-settle2026-10 BETA"))
    shown = await bank_admin.import_preview(context(beta).db, first)
    assert [(line.credit.amount, line.peer) for line in shown.lines] == [
        (400, "alpha.test"),
        (500, ""),  # the same reference, another amount: not the payment
    ]
    assert (await _notice(beta)).state == "notified"  # a preview confirms nothing
    # Then confirming the import confirms the notice, once
    running = context(beta)
    done = await bank_admin.confirm_import(running.db, running.settings, first, None)
    assert (done.booked, done.unmatched, len(done.settled)) == (0, 1, 1)
    assert (await _notice(beta)).state == "confirmed"
    assert await pending(beta, bob) == 0
    assert [c.state for c in await _credits(beta)] == [
        BankCreditState.settlement,
        BankCreditState.unmatched,
    ]
    # and alpha learns it from beta's signed confirmation
    await running.worker.drain()
    assert [b.state for b in await _batches(alpha)] == [SettlementState.confirmed]
    assert (await _notice(alpha)).state == "confirmed"
    # The same statement again books and confirms nothing more
    again = await _import(beta, _statement(REFERENCE))
    redone = await bank_admin.confirm_import(running.db, running.settings, again, None)
    assert (redone.booked, redone.duplicates, redone.settled) == (0, 2, ())
    with pytest.raises(ServiceError, match="confirmed already"):
        await confirm_payment(running.db, running.settings, (await _notice(beta)).id or 0)
    for app in (alpha, beta):
        await assert_books_balance(context(app).db)


async def test_a_notice_confirmed_by_hand_is_not_confirmed_again_nor_left_to_assign(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _owed_and_notified(alpha, beta, network)
    running = context(beta)
    await confirm_payment(running.db, running.settings, (await _notice(beta)).id or 0)
    first = await _import(beta, _statement(REFERENCE))
    done = await bank_admin.confirm_import(running.db, running.settings, first, None)
    # The transfer is known as the peer's payment: not left for the admin to give a donor
    assert (done.unmatched, len(done.settled)) == (1, 1)
    assert [c.state for c in (await bank_admin.bank_page(running.db)).waiting] == [
        BankCreditState.unmatched
    ]
    assert [c.amount for c in (await bank_admin.bank_page(running.db)).waiting] == [500]
    await assert_books_balance(running.db)


async def test_an_unrelated_or_refused_payment_is_not_confirmed(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    bob = await _owed_and_notified(alpha, beta, network)
    running = context(beta)
    # A reference the notice does not give matches nothing (the preview is then cancelled)
    other = await _import(beta, _statement("SOMETHING-ELSE-1"))
    shown = await bank_admin.import_preview(running.db, other)
    assert [line.peer for line in shown.lines] == ["", ""]
    await bank_admin.cancel_import(running.db, other)
    # A notice beta's admin refused is paid by no credit
    await refuse_payment(running.db, running.settings, (await _notice(beta)).id or 0, "no money")
    refused = await _import(beta, _statement(REFERENCE))
    shown = await bank_admin.import_preview(running.db, refused)
    assert [line.peer for line in shown.lines] == ["", ""]
    done = await bank_admin.confirm_import(running.db, running.settings, refused, None)
    assert (done.unmatched, done.settled) == (2, ())
    assert (await _notice(beta)).state == "refused" and await pending(beta, bob) == 400
    await assert_books_balance(running.db)
