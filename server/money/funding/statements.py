"""Imported bank statements: a preview of every credit (matched to a donor by its RF
reference, or not) before anything is booked; confirming books the matched ones through
the bank provider and lists the rest for the admin to assign, or to return through the bank
(nothing booked: an unmatched credit never reached a wallet). A bank entry books once
whichever import brings it: the transfer's key is the account and the entry's reference."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import Conflict, NotFound, ValidationFailed
from server.models import Account, Peer, SettlementPayment
from server.models.base import utcnow
from server.models.money_in import BankCredit, BankCreditState, BankImport, BankImportState
from server.models.settlement import PaymentState
from server.money.funding.bank import BANK, donor_of_reference, payment_id
from server.money.funding.base import Funding
from server.money.funding.camt import Statement, read_statement
from server.money.funding.mt940_statement import looks_like_mt940, read_mt940
from server.money.funding.peer_payments import notice_of, payment_notices
from server.settings import Settings
from server.states import advance

LISTED = (
    BankCreditState.booked,
    BankCreditState.assigned,
    BankCreditState.unmatched,
    BankCreditState.settlement,
    BankCreditState.returned,
)


def read_statement_file(data: bytes, currency: str, scale: int) -> Statement:
    """A camt.053/054 or MT940 file's credits (MT940 when it begins with `:20:`), refused
    whole when malformed or in another currency."""
    if looks_like_mt940(data):
        return read_mt940(data, currency, scale)
    return read_statement(data, currency, scale)


@dataclass(frozen=True)
class PreviewLine:
    credit: BankCredit
    donor: str  # the matched donor's username, or ""
    seen: bool  # an earlier import already booked or listed this bank entry
    peer: str = ""  # the peer whose payment notice it pays (its domain), or ""


@dataclass(frozen=True)
class Preview:
    batch: BankImport
    lines: list[PreviewLine]

    @property
    def total(self) -> int:
        return sum(line.credit.amount for line in self.lines if not line.seen)

    @property
    def matched_total(self) -> int:
        """What confirming books now: the matched credits not imported before."""
        return sum(line.credit.amount for line in self.lines if line.donor and not line.seen)

    @property
    def matched(self) -> int:
        return sum(1 for line in self.lines if line.donor and not line.seen)


@dataclass(frozen=True)
class Confirmed:
    import_id: int
    booked: int  # credits booked to donors now
    amount: int  # what they came to
    unmatched: int  # listed for the admin
    duplicates: int  # bank entries an earlier import had
    again: bool  # the import was confirmed before: nothing done now
    settled: tuple[int, ...] = ()  # peers' payment notices these credits pay: to confirm


@dataclass(frozen=True)
class Upload:
    statement: Statement
    file_name: str
    admin_id: int | None


async def store_preview(session: AsyncSession, settings: Settings, upload: Upload) -> BankImport:
    """Store the statement's credits as a preview; nothing is booked."""
    bank = settings.bank
    statement = upload.statement
    if bank is not None and statement.iban != bank.iban:
        raise ValidationFailed(
            f"this statement is of the account {statement.iban}, not this instance's "
            f"({bank.iban}); nothing was imported"
        )
    batch = BankImport(
        admin_id=upload.admin_id,
        file_name=upload.file_name[:255],
        format=statement.format,
        statement_id=statement.statement_id,
        iban=statement.iban,
    )
    session.add(batch)
    await session.flush()
    wanted = {c.entry_ref: donor_of_reference(c.reference) for c in statement.credits}
    ids = {i for i in wanted.values() if i is not None}
    found = await session.exec(select(Account.id).where(col(Account.id).in_(ids)))
    known = set(found.all())
    strangers = [c for c in statement.credits if wanted[c.entry_ref] not in known]
    notices = await payment_notices(session, [c.amount for c in strangers])
    for credit in statement.credits:
        donor = wanted[credit.entry_ref]
        paying = None if donor in known else notice_of(credit.reference, credit.amount, notices)
        if paying is not None:
            notices.remove(paying)  # one credit per notice
        session.add(
            BankCredit(
                import_id=batch.id or 0,
                entry_ref=credit.entry_ref,
                amount=credit.amount,
                booked_on=credit.booked_on,
                reference=credit.reference,
                debtor_name=credit.debtor_name,
                debtor_iban=credit.debtor_iban,
                donor_id=donor if donor in known else None,
                payment_id=paying[0].id if paying is not None else None,
            )
        )
    await session.flush()
    return batch


async def _seen(session: AsyncSession, batch: BankImport, refs: list[str]) -> set[str]:
    """Entries of this account that other imports booked or listed."""
    rows = await session.exec(
        select(BankCredit.entry_ref)
        .join(BankImport, col(BankImport.id) == BankCredit.import_id)
        .where(
            col(BankCredit.entry_ref).in_(refs),
            BankImport.iban == batch.iban,
            BankCredit.import_id != batch.id,
            col(BankCredit.state).in_([state.value for state in LISTED]),
        )
    )
    return set(rows.all())


async def _usernames(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    rows = await session.exec(select(Account.id, Account.username).where(col(Account.id).in_(ids)))
    return {int(account_id or 0): name for account_id, name in rows.all()}


async def preview(session: AsyncSession, import_id: int) -> Preview:
    batch = await session.get(BankImport, import_id)
    if batch is None:
        raise NotFound(f"no bank import {import_id}")
    credits = list(
        (
            await session.exec(
                select(BankCredit)
                .where(BankCredit.import_id == import_id)
                .order_by(col(BankCredit.id))
            )
        ).all()
    )
    seen = await _seen(session, batch, [c.entry_ref for c in credits])
    names = await _usernames(session, {c.donor_id for c in credits if c.donor_id is not None})
    peers = await _payers(session, {c.payment_id for c in credits if c.payment_id is not None})
    lines = [
        PreviewLine(
            c, names.get(c.donor_id or 0, ""), c.entry_ref in seen, peers.get(c.payment_id or 0, "")
        )
        for c in credits
    ]
    return Preview(batch, lines)


async def _payers(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    rows = await session.exec(
        select(SettlementPayment.id, Peer.domain)
        .join(Peer, col(Peer.id) == SettlementPayment.peer_id)
        .where(col(SettlementPayment.id).in_(ids))
    )
    return {int(payment_id or 0): domain for payment_id, domain in rows.all()}


async def confirm(
    session: AsyncSession, settings: Settings, import_id: int, admin_id: int | None
) -> Confirmed:
    batch = await session.get(BankImport, import_id, with_for_update=True)
    if batch is None:
        raise NotFound(f"no bank import {import_id}")
    if batch.state == BankImportState.confirmed:
        return Confirmed(import_id, 0, 0, 0, 0, again=True)
    if batch.state != BankImportState.previewed:
        raise Conflict(f"bank import {import_id} was {batch.state.value}")
    shown = await preview(session, import_id)
    booked = amount = unmatched = duplicates = 0
    settled: list[int] = []
    for line in shown.lines:
        credit = line.credit
        if line.seen:
            advance(credit, BankCreditState.duplicate)
            duplicates += 1
        elif credit.payment_id is not None and await _still_owed(session, credit):
            advance(credit, BankCreditState.settlement)
            settled.append(credit.payment_id)
        elif credit.donor_id is None:
            credit.payment_id = None
            advance(credit, BankCreditState.unmatched)
            unmatched += 1
        elif await _book(session, settings, batch, credit, admin_id, BankCreditState.booked):
            booked, amount = booked + 1, amount + credit.amount
        else:
            duplicates += 1
        session.add(credit)
    advance(batch, BankImportState.confirmed)
    batch.confirmed_at = utcnow()
    session.add(batch)
    await session.flush()
    return Confirmed(
        import_id, booked, amount, unmatched, duplicates, again=False, settled=tuple(settled)
    )


async def _still_owed(session: AsyncSession, credit: BankCredit) -> bool:
    """The notice this credit pays was not refused meanwhile, nor paid by another credit."""
    payment = await session.get(SettlementPayment, credit.payment_id, with_for_update=True)
    if payment is None or payment.state == PaymentState.refused:
        return False
    other = await session.exec(
        select(BankCredit.id).where(
            BankCredit.payment_id == credit.payment_id,
            BankCredit.state == BankCreditState.settlement,
            BankCredit.id != credit.id,
        )
    )
    return other.first() is None


async def _book(
    session: AsyncSession,
    settings: Settings,
    batch: BankImport,
    credit: BankCredit,
    admin_id: int | None,
    to: BankCreditState,
) -> bool:
    """Credit the donor's wallet by the bank entry; False when that entry was booked before."""
    funding = Funding(
        int(credit.donor_id or 0),
        credit.amount,
        payment_id(batch.iban, credit.entry_ref),
        BANK.name,
        made_by=admin_id,
    )
    done = await BANK.credit(session, settings, funding)
    if done.created:
        advance(credit, to)
        credit.transfer_id = done.transfer.id
    else:
        advance(credit, BankCreditState.duplicate)
    return done.created


async def cancel(session: AsyncSession, import_id: int) -> BankImport:
    batch = await session.get(BankImport, import_id, with_for_update=True)
    if batch is None:
        raise NotFound(f"no bank import {import_id}")
    if batch.state == BankImportState.cancelled:
        return batch
    if batch.state != BankImportState.previewed:
        raise Conflict(f"bank import {import_id} is {batch.state.value}; it cannot be cancelled")
    advance(batch, BankImportState.cancelled)
    session.add(batch)
    for credit in (
        await session.exec(select(BankCredit).where(BankCredit.import_id == import_id))
    ).all():
        advance(credit, BankCreditState.dropped)
        session.add(credit)
    await session.flush()
    return batch


async def assign(
    session: AsyncSession,
    settings: Settings,
    credit_id: int,
    donor_id: int,
    admin_id: int | None,
) -> tuple[BankCredit, bool]:
    """Book an unmatched credit to the donor the admin named; (credit, False) when it was
    assigned before (a second click) or its entry booked meanwhile."""
    credit = await session.get(BankCredit, credit_id, with_for_update=True)
    if credit is None:
        raise NotFound(f"no bank credit {credit_id}")
    if credit.state in (BankCreditState.assigned, BankCreditState.duplicate):
        return credit, False
    if credit.state != BankCreditState.unmatched:
        raise Conflict(f"bank credit {credit_id} is {credit.state.value}, not waiting")
    batch = await session.get(BankImport, credit.import_id)
    if batch is None:
        raise NotFound(f"no bank import {credit.import_id}")
    credit.donor_id = donor_id
    created = await _book(session, settings, batch, credit, admin_id, BankCreditState.assigned)
    session.add(credit)
    await session.flush()
    return credit, created


async def mark_returned(
    session: AsyncSession, credit_id: int, admin_id: int | None
) -> tuple[BankCredit, bool]:
    """Mark an unmatched credit returned: the admin sent the money back to the payer through
    the bank. Nothing is booked: an unmatched credit was never booked to any ledger account,
    so none holds it. (credit, False) when it was returned before (a second click)."""
    credit = await session.get(BankCredit, credit_id, with_for_update=True)
    if credit is None:
        raise NotFound(f"no bank credit {credit_id}")
    if credit.state == BankCreditState.returned:
        return credit, False
    if credit.state != BankCreditState.unmatched:
        raise Conflict(
            f"bank credit {credit_id} is {credit.state.value}, not unmatched; "
            "only an unmatched credit can be returned"
        )
    advance(credit, BankCreditState.returned)
    credit.returned_by = admin_id
    credit.returned_at = utcnow()
    session.add(credit)
    await session.flush()
    return credit, True


@dataclass(frozen=True)
class ReturnedCredit:
    credit: BankCredit
    by: str  # the username of the admin who returned it, or ""


async def returned_credits(session: AsyncSession, limit: int = 20) -> list[ReturnedCredit]:
    """The latest credits the admin returned, newest first, with who returned them."""
    rows = await session.exec(
        select(BankCredit, Account.username)
        .outerjoin(Account, col(Account.id) == BankCredit.returned_by)
        .where(BankCredit.state == BankCreditState.returned)
        .order_by(col(BankCredit.returned_at).desc(), col(BankCredit.id).desc())
        .limit(limit)
    )
    return [ReturnedCredit(credit, name or "") for credit, name in rows.all()]


async def waiting_credits(session: AsyncSession) -> list[BankCredit]:
    """Unmatched credits the admin has not assigned, oldest first."""
    rows = await session.exec(
        select(BankCredit)
        .where(BankCredit.state == BankCreditState.unmatched)
        .order_by(col(BankCredit.id))
    )
    return list(rows.all())


async def recent_imports(session: AsyncSession, limit: int = 10) -> list[BankImport]:
    rows = await session.exec(select(BankImport).order_by(col(BankImport.id).desc()).limit(limit))
    return list(rows.all())
