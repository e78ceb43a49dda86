"""What the admin's bank page (/admin/money/bank) and `likewise bank import` read and do:
read a statement into a preview, confirm or cancel it, assign an unmatched credit to a
donor or mark it returned to its payer; each function owns its session or transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.accounts.accounts import get_account
from server.db.engine import Database
from server.domain_errors import NotFound, Outcome, ValidationFailed, attempt
from server.models.money_in import BankCredit, BankCreditState, BankImport
from server.money.funding import statements
from server.money.funding.statements import Confirmed, Preview, ReturnedCredit, Upload
from server.settlement.payments import confirm_from_statement

__all__ = ["Confirmed", "Preview"]  # what callers read back
from server.settings import Settings


@dataclass(frozen=True)
class BankPage:
    waiting: list[BankCredit]  # unmatched credits, for the admin to assign
    imports: list[BankImport]  # the latest imports
    returned: list[ReturnedCredit] = field(default_factory=list)  # the latest returned


@dataclass(frozen=True)
class StatementFile:
    name: str
    data: bytes
    admin_id: int | None


@dataclass(frozen=True)
class Assigned:
    credit: BankCredit
    username: str
    created: bool  # False: it was booked before, nothing moved now


@dataclass(frozen=True)
class Returned:
    credit: BankCredit
    created: bool  # False: it was returned before, nothing changed now


CONFIRM_RETURN = "I have sent this money back through the bank"


async def bank_page(db: Database) -> BankPage:
    async with db.session() as session:
        return BankPage(
            await statements.waiting_credits(session),
            await statements.recent_imports(session),
            await statements.returned_credits(session),
        )


async def import_statement(db: Database, settings: Settings, upload: StatementFile) -> int:
    """Read the file and store its preview; the import's id. Nothing is booked."""
    if not upload.name:
        raise ValidationFailed("choose the statement file", field="statement")
    data, scale = upload.data, settings.currency_scale
    statement = statements.read_statement_file(data, settings.currency, scale)
    async with db.transaction() as session:
        batch = await statements.store_preview(
            session, settings, Upload(statement, upload.name, upload.admin_id)
        )
        return int(batch.id or 0)


async def import_preview(db: Database, import_id: int) -> Preview:
    async with db.session() as session:
        return await statements.preview(session, import_id)


async def confirm_import(
    db: Database, settings: Settings, import_id: int, admin_id: int | None
) -> Confirmed:
    async with db.transaction() as session:
        done = await statements.confirm(session, settings, import_id, admin_id)
        for payment_id in done.settled:  # peers' transfers: their notices are confirmed
            await confirm_from_statement(session, settings, payment_id)
        return done


async def cancel_import(db: Database, import_id: int) -> None:
    async with db.transaction() as session:
        await statements.cancel(session, import_id)


async def assign_credit(
    db: Database, settings: Settings, credit_id: int, username: str, admin_id: int | None
) -> Assigned:
    """Book an unmatched credit to `username`'s wallet; `admin_id` None from the CLI."""
    async with db.transaction() as session:
        account = await get_account(session, username.strip().removeprefix("@"))
        credit, created = await statements.assign(
            session, settings, credit_id, int(account.id or 0), admin_id
        )
        return Assigned(credit, account.username, created)


async def return_credit(db: Database, credit_id: int, sent: bool, admin_id: int | None) -> Returned:
    """Mark an unmatched credit returned once the admin says the bank sent it back."""
    async with db.transaction() as session:
        credit = await session.get(BankCredit, credit_id, with_for_update=True)
        if credit is None:
            raise NotFound(f"no bank credit {credit_id}")
        if not sent and credit.state == BankCreditState.unmatched:
            raise ValidationFailed(
                f'tick "{CONFIRM_RETURN}" once your bank has sent it back; nothing changed',
                field=f"sent-{credit_id}",
            )
        credit, created = await statements.mark_returned(session, credit_id, admin_id)
        return Returned(credit, created)


async def import_statement_or_page(
    db: Database, settings: Settings, upload: StatementFile
) -> Outcome[int, BankPage]:
    return await attempt(import_statement(db, settings, upload), lambda: bank_page(db))


async def confirm_import_or_page(
    db: Database, settings: Settings, import_id: int, admin_id: int
) -> Outcome[Confirmed, BankPage]:
    return await attempt(confirm_import(db, settings, import_id, admin_id), lambda: bank_page(db))


async def cancel_import_or_page(db: Database, import_id: int) -> Outcome[None, BankPage]:
    return await attempt(cancel_import(db, import_id), lambda: bank_page(db))


async def assign_credit_or_page(
    db: Database, settings: Settings, credit_id: int, username: str, admin_id: int
) -> Outcome[Assigned, BankPage]:
    return await attempt(
        assign_credit(db, settings, credit_id, username, admin_id), lambda: bank_page(db)
    )


async def return_credit_or_page(
    db: Database, credit_id: int, sent: bool, admin_id: int
) -> Outcome[Returned, BankPage]:
    return await attempt(return_credit(db, credit_id, sent, admin_id), lambda: bank_page(db))
