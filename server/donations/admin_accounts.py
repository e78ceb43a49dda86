"""What the admin's users-and-wallets pages (/admin/accounts) read and do: every local
account with its role, wallet balance, budget and state, searched by handle or e-mail and
paged by handle (keyset: the page after a handle is one index range, however many
accounts there are); one account's ledger lines, newest first, paged by line id; and
suspending or reinstating an account, as `likewise users suspend` does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.accounts import get_account, normalize_username, set_suspended
from server.db.engine import Database
from server.domain_errors import Outcome, ValidationFailed, attempt
from server.donations.history import WON_PREFIX
from server.models import Account, DonorSettings, LedgerAccount, LedgerKind, Transfer
from server.settings import Settings
from server.text_checks import has_control_characters

PAGE_SIZE = 50
HISTORY_SIZE = 40
# The ledger accounts of a person whose lines the history shows, and what each is called.
OWN_KINDS = {
    LedgerKind.donor_wallet: "wallet",
    LedgerKind.creator_pending: "pending earnings",
    LedgerKind.creator_available: "earnings",
}
# What each kind of transfer means on a person's page.
KIND_WORDS = {
    "funding": "money added",
    "close_reserve": "month close: budget",
    "close_share": "month close: share received",
    "escrow_return": "returned from escrow",
    "escrow_claim": "claimed from escrow",
    "settlement_credit": "share from a peer instance",
    "settlement_paid": "peer payment arrived",
    "payout": "payout",
    "reversal": "refund or dispute",
    "provider_fee": "payment provider's fee",
}


@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    email: str
    is_admin: bool
    suspended: bool
    wallet: int
    budget: int
    created_at: datetime

    @property
    def role(self) -> str:
        return "admin" if self.is_admin else "user"

    @property
    def state(self) -> str:
        return "suspended" if self.suspended else "active"


@dataclass(frozen=True)
class AccountList:
    rows: list[AccountRow]
    query: str
    after: str  # the handle this page starts after ("" for the first page)
    next_after: str  # the handle the next page starts after ("" when this is the last)


@dataclass(frozen=True)
class Line:
    id: int
    when: datetime
    ledger: str  # "wallet", "earnings", …
    kind: str
    what: str
    amount: int  # signed: into the person's account is positive
    period: str
    reference: str
    balance: int  # that ledger account's balance after the line


@dataclass(frozen=True)
class AccountHistory:
    account: AccountRow
    balances: dict[str, int]  # by ledger name
    lines: list[Line]
    before: int  # the line id this page starts before (0 for the newest page)
    next_before: int  # 0 when no older lines


def _prefix_range(column: Any, prefix: str) -> Any:
    """Rows whose column starts with `prefix`, as an index range (handles and e-mails are
    lower-case ASCII): [prefix, prefix with its last character raised)."""
    if not prefix:
        return True
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def _search(text: str) -> tuple[Any, str]:
    query = " ".join(text.split()).lower()
    if len(query) > 254 or has_control_characters(query):
        raise ValidationFailed("search for a handle or an e-mail address", field="q")
    if "@" in query.lstrip("@"):
        return _prefix_range(col(Account.email), query), query
    return _prefix_range(col(Account.username), normalize_username(query)), query


def _rows_query() -> Any:
    wallet = and_(
        col(LedgerAccount.account_id) == col(Account.id),
        col(LedgerAccount.kind) == LedgerKind.donor_wallet.value,
    )
    return (
        sa_select(
            col(Account.id),
            col(Account.username),
            col(Account.email),
            col(Account.is_admin),
            col(Account.suspended_at),
            func.coalesce(col(LedgerAccount.balance), 0),
            col(DonorSettings.monthly_budget),
            col(Account.created_at),
        )
        .outerjoin(LedgerAccount, wallet)
        .outerjoin(DonorSettings, col(DonorSettings.account_id) == col(Account.id))
    )


def _row(settings: Settings, found: Any) -> AccountRow:
    account_id, username, email, admin, suspended_at, wallet, budget, created = found
    budget = settings.budget_default if budget is None else budget
    return AccountRow(
        int(account_id),
        username,
        email,
        bool(admin),
        suspended_at is not None,
        int(wallet),
        int(budget),
        created,
    )


async def list_accounts(
    db: Database,
    settings: Settings,
    search: str = "",
    after: str = "",
    size: int | None = None,
) -> AccountList:
    """A page of accounts by handle, after `after`, matching `search`."""
    size = size or PAGE_SIZE
    matching, query = _search(search)
    if has_control_characters(after):
        raise ValidationFailed("the page to start after is a handle", field="after")
    after = normalize_username(after)[:30]
    statement = _rows_query().where(matching)
    if after:
        statement = statement.where(col(Account.username) > after)
    statement = statement.order_by(col(Account.username)).limit(size + 1)
    async with db.session() as session:
        result = await (await session.connection()).execute(statement)
        found = [_row(settings, row) for row in result.all()]
    more = len(found) > size
    rows = found[:size]
    return AccountList(rows, query, after, rows[-1].username if more else "")


async def _account_row(session: AsyncSession, settings: Settings, username: str) -> AccountRow:
    account = await get_account(session, username)
    statement = _rows_query().where(col(Account.id) == account.id)
    found = await (await session.connection()).execute(statement)
    return _row(settings, found.one())


async def _lines(
    session: AsyncSession, ledgers: dict[int, LedgerAccount], before: int, size: int
) -> list[Any]:
    ids = list(ledgers)
    statement = select(Transfer).where(
        or_(col(Transfer.debit_id).in_(ids), col(Transfer.credit_id).in_(ids))
    )
    if before:
        statement = statement.where(col(Transfer.id) < before)
    statement = statement.order_by(col(Transfer.id).desc()).limit(size + 1)
    return list((await session.exec(statement)).all())


async def _newer_sums(
    session: AsyncSession, ledgers: dict[int, LedgerAccount], before: int
) -> dict[int, int]:
    """What the lines at or after `before` moved into each ledger account (to walk each
    balance back from today's to the page's newest line)."""
    sums = dict.fromkeys(ledgers, 0)
    if not before:
        return sums
    for ledger_id in ledgers:
        moved = await session.exec(
            select(
                func.coalesce(
                    func.sum(col(Transfer.amount)).filter(col(Transfer.credit_id) == ledger_id),
                    0,
                ),
                func.coalesce(
                    func.sum(col(Transfer.amount)).filter(col(Transfer.debit_id) == ledger_id),
                    0,
                ),
            ).where(
                or_(col(Transfer.credit_id) == ledger_id, col(Transfer.debit_id) == ledger_id),
                col(Transfer.id) >= before,
            )
        )
        credited, debited = moved.one()
        sums[ledger_id] = int(credited) - int(debited)
    return sums


def _words(kind: str, key: str) -> str:
    if key.startswith(WON_PREFIX):  # a reversal too, but the money came back
        return "dispute won: money back"
    return KIND_WORDS.get(kind, kind.replace("_", " "))


def _walk_back(
    transfers: list[Transfer], ledgers: dict[int, LedgerAccount], start: dict[int, int]
) -> list[Line]:
    """The lines newest first, each with its ledger account's balance after it."""
    balance = dict(start)
    lines = []
    for transfer in transfers:
        for ledger_id, sign in ((transfer.credit_id, 1), (transfer.debit_id, -1)):
            if ledger_id not in ledgers:
                continue
            kind = str(transfer.kind)
            lines.append(
                Line(
                    int(transfer.id or 0),
                    transfer.created_at,
                    OWN_KINDS[ledgers[ledger_id].kind],
                    kind,
                    _words(kind, transfer.idempotency_key),
                    sign * transfer.amount,
                    transfer.period,
                    transfer.reference,
                    balance[ledger_id],
                )
            )
            balance[ledger_id] -= sign * transfer.amount
    return lines


async def account_history(
    db: Database, settings: Settings, username: str, before: int = 0, size: int = HISTORY_SIZE
) -> AccountHistory:
    async with db.session() as session:
        row = await _account_row(session, settings, username)
        owned = await session.exec(
            select(LedgerAccount).where(
                col(LedgerAccount.account_id) == row.id,
                col(LedgerAccount.kind).in_([kind.value for kind in OWN_KINDS]),
            )
        )
        ledgers = {int(ledger.id or 0): ledger for ledger in owned.all()}
        transfers = await _lines(session, ledgers, before, size) if ledgers else []
        newer = await _newer_sums(session, ledgers, before)
    more = len(transfers) > size
    transfers = transfers[:size]
    start = {key: ledger.balance - newer[key] for key, ledger in ledgers.items()}
    balances = {OWN_KINDS[ledger.kind]: ledger.balance for ledger in ledgers.values()}
    balances.setdefault("wallet", 0)
    next_before = int(transfers[-1].id or 0) if more else 0
    return AccountHistory(row, balances, _walk_back(transfers, ledgers, start), before, next_before)


async def suspend_account(db: Database, username: str, *, suspended: bool) -> Account:
    async with db.transaction() as session:
        return await set_suspended(session, username, suspended)


async def suspend_or_page(
    db: Database, settings: Settings, username: str, *, suspended: bool
) -> Outcome[Account, AccountHistory]:
    """Suspend or reinstate an account, or its page showing the refusal."""
    return await attempt(
        suspend_account(db, username, suspended=suspended),
        lambda: account_history(db, settings, username),
    )
