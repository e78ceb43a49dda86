"""Creators' payouts: request (funds held at once), admin approval or rejection, SEPA
export (pain.001.001.03, stored as exported), and confirmation once the bank paid."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import Conflict, FieldChecks, NotFound, ValidationFailed
from server.models import LedgerKind, Payout, PayoutBatch, TransferKind
from server.models.base import utcnow
from server.models.payouts import PayoutState
from server.money.amounts import format_amount
from server.money.ledger import (
    InsufficientFunds,
    Owner,
    TransferSpec,
    check_amount,
    ledger_account_ids,
    post_transfer,
)
from server.settings import Settings
from server.states import advance
from server.text_checks import has_control_characters

IN_FLIGHT = Owner(LedgerKind.payouts_in_flight)
WORLD = Owner(LedgerKind.outside_world)


@dataclass(frozen=True)
class PayoutRequest:
    account_id: int
    amount: int
    iban: str
    name: str
    bic: str = ""


@dataclass(frozen=True)
class Debtor:
    """The instance's own bank account the batch is paid from."""

    name: str
    iban: str
    bic: str


def clean_iban(text: str) -> str:
    try:
        return str(IBAN(text).compact)
    except SchwiftyException as exc:
        raise ValidationFailed(f"that IBAN is not valid: {exc}", field="iban") from exc


def clean_bic(text: str) -> str:
    if not text.strip():
        return ""
    try:
        return str(BIC(text.strip()).compact)
    except SchwiftyException as exc:
        raise ValidationFailed(f"that BIC is not valid: {exc}", field="bic") from exc


def _amount(settings: Settings, amount: int) -> int:
    check_amount(amount)
    if amount < settings.payout_min:
        raise ValidationFailed(
            f"the smallest payout is {format_amount(settings.payout_min, settings)} "
            f"{settings.currency}",
            field="amount",
        )
    return amount


def _holder(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > 70 or has_control_characters(name):
        raise ValidationFailed("give the account holder's name (1-70 characters)", field="name")
    return name


def checked_request(
    settings: Settings, request: PayoutRequest, checks: FieldChecks | None = None
) -> PayoutRequest:
    """The request with its values cleaned; every wrong one refused at once (joined to
    `checks`, which may already hold the form's refusals, an amount that could not be read
    among them)."""
    checks = checks or FieldChecks()
    if not checks.refused("amount"):
        checks.check(_amount, settings, request.amount)
    name = checks.check(_holder, request.name) or ""
    iban = checks.check(clean_iban, request.iban) or ""
    bic = checks.check(clean_bic, request.bic) or ""
    checks.done()
    return PayoutRequest(request.account_id, request.amount, iban, name, bic)


async def _move(
    session: AsyncSession, settings: Settings, key: str, debit: Owner, credit: Owner, amount: int
) -> None:
    ids = await ledger_account_ids(session, settings, [debit, credit])
    spec = TransferSpec(key, ids[debit], ids[credit], amount, TransferKind.payout)
    await post_transfer(session, spec)


async def request_payout(
    session: AsyncSession, settings: Settings, request: PayoutRequest
) -> Payout:
    clean = checked_request(settings, request)
    payout = Payout(
        account_id=clean.account_id,
        amount=clean.amount,
        iban=clean.iban,
        name=clean.name,
        bic=clean.bic,
    )
    session.add(payout)
    await session.flush()
    available = Owner(LedgerKind.creator_available, account_id=clean.account_id)
    try:
        await _move(
            session, settings, f"payout:{payout.id}:hold", available, IN_FLIGHT, clean.amount
        )
    except InsufficientFunds as exc:
        raise Conflict("the payout is more than your available balance", field="amount") from exc
    return payout


async def _payout(session: AsyncSession, payout_id: int, *states: PayoutState) -> Payout:
    payout = await session.get(Payout, payout_id, with_for_update=True)
    if payout is None:
        raise NotFound(f"no payout {payout_id}")
    if payout.state not in states:
        raise Conflict(f"payout {payout_id} is {payout.state}")
    return payout


async def approve_payout(session: AsyncSession, payout_id: int) -> Payout:
    payout = await _payout(session, payout_id, PayoutState.requested)
    advance(payout, PayoutState.approved)
    payout.decided_at = utcnow()
    session.add(payout)
    return payout


async def reject_payout(
    session: AsyncSession, settings: Settings, payout_id: int, note: str = ""
) -> Payout:
    payout = await _payout(session, payout_id, PayoutState.requested, PayoutState.approved)
    available = Owner(LedgerKind.creator_available, account_id=payout.account_id)
    await _move(
        session, settings, f"payout:{payout.id}:reject", IN_FLIGHT, available, payout.amount
    )
    advance(payout, PayoutState.rejected)
    payout.note = note[:500]
    payout.decided_at = utcnow()
    session.add(payout)
    return payout


def build_sepa(settings: Settings, debtor: Debtor, payouts: Sequence[Payout], on: dt.date) -> str:
    config: dict[str, Any] = {
        "name": debtor.name,
        "IBAN": clean_iban(debtor.iban),
        "BIC": clean_bic(debtor.bic),
        "batch": True,
        "currency": settings.currency,
    }
    sepa = SepaTransfer(config, clean=True)
    for payout in payouts:
        payment: dict[str, Any] = {
            "name": payout.name,
            "IBAN": payout.iban,
            "amount": payout.amount,  # integer cents, as sepaxml requires
            "execution_date": on,
            "description": f"{settings.name} payout {payout.id}",
            "endtoend_id": f"LW{payout.id}"[:35],
        }
        if payout.bic:
            payment["BIC"] = payout.bic
        sepa.add_payment(payment)
    exported: bytes = sepa.export(validate=True)
    return exported.decode()


async def export_batch(session: AsyncSession, settings: Settings, debtor: Debtor) -> PayoutBatch:
    """Every approved payout in one SEPA file; they are now in flight."""
    payouts = (
        await session.exec(
            select(Payout)
            .where(Payout.state == PayoutState.approved)
            .order_by(col(Payout.id))
            .with_for_update()
        )
    ).all()
    if not payouts:
        raise NotFound("there are no approved payouts to export")
    if settings.currency != "EUR":
        raise ValidationFailed("SEPA transfers are in EUR; this instance uses another currency")
    document = build_sepa(settings, debtor, payouts, utcnow().date())
    found = re.search(r"<MsgId>([^<]+)</MsgId>", document)
    batch = PayoutBatch(
        format="sepa",
        message_id=found.group(1) if found else "",
        document=document,
        total=sum(p.amount for p in payouts),
    )
    session.add(batch)
    await session.flush()
    for payout in payouts:
        advance(payout, PayoutState.in_flight)
        payout.batch_id = batch.id
        session.add(payout)
    return batch


async def confirm_batch(session: AsyncSession, settings: Settings, batch_id: int) -> PayoutBatch:
    """The bank paid the batch: book each payout out to the outside world."""
    batch = await session.get(PayoutBatch, batch_id, with_for_update=True)
    if batch is None:
        raise NotFound(f"no payout batch {batch_id}")
    payouts = (await session.exec(select(Payout).where(Payout.batch_id == batch_id))).all()
    for payout in payouts:
        if payout.state == PayoutState.paid:
            continue
        await _move(session, settings, f"payout:{payout.id}:paid", IN_FLIGHT, WORLD, payout.amount)
        advance(payout, PayoutState.paid)
        payout.paid_at = utcnow()
        session.add(payout)
    batch.confirmed_at = batch.confirmed_at or utcnow()
    session.add(batch)
    return batch


async def list_payouts(
    session: AsyncSession, *, account_id: int | None = None, state: str | None = None
) -> Sequence[Payout]:
    query = select(Payout).order_by(col(Payout.id).desc())
    if account_id is not None:
        query = query.where(Payout.account_id == account_id)
    if state is not None:
        query = query.where(Payout.state == state)
    return (await session.exec(query)).all()
