"""The only way money moves: idempotent double-entry transfers between ledger accounts.

A balance is credits minus debits. Each account caches it in `balance`; `check_ledger`
recomputes every cache from the transfers. Accounts of the NON_NEGATIVE kinds are debited
with a conditional update, so two racing debits cannot overdraw them on either database.
No transfer moves, and no balance reaches (either sign), more than AMOUNT_CEILING minor
units: a posting that would is refused with `CeilingExceeded` and its transaction rolls
back (the schema's CHECK constraints hold the same bound).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.bulk import MissingAccount, add_to_balances, copy_rows, db_time
from server.db.ledger_sql import account_ids_by_key, insert_accounts
from server.domain_errors import Conflict, ValidationFailed
from server.models import LedgerAccount, LedgerKind, Transfer, TransferKind
from server.models.base import utcnow
from server.models.ledger import AMOUNT_CEILING
from server.settings import Settings

NON_NEGATIVE = frozenset(
    {
        LedgerKind.donor_wallet,
        LedgerKind.donor_reserve,
        LedgerKind.creator_available,
        LedgerKind.escrow_identity,
        LedgerKind.escrow_peer,
        LedgerKind.instance_fees,
        LedgerKind.payouts_in_flight,
        LedgerKind.provider_fees,
    }
)


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class CeilingExceeded(Conflict):
    """A posting would take a balance beyond ±AMOUNT_CEILING minor units."""

    code = "balance_ceiling"

    def __init__(self) -> None:
        super().__init__(
            f"this would take a balance beyond {AMOUNT_CEILING} minor units, "
            "the most an account may hold; nothing was booked"
        )


class Owner(NamedTuple):
    """Who a ledger account belongs to; which field matters depends on the kind.
    (A NamedTuple: the close builds and hashes hundreds of thousands of them.)"""

    kind: LedgerKind
    account_id: int | None = None
    identity_id: int | None = None
    peer_domain: str = ""

    @property
    def key(self) -> str:
        kind = self.kind
        if kind in SINGLETONS:
            return kind.value
        if kind == LedgerKind.escrow_identity:
            return f"{kind.value}:{self.identity_id}"
        if kind in BY_DOMAIN:
            return f"{kind.value}:{self.peer_domain}"
        return f"{kind.value}:{self.account_id}"


SINGLETONS = frozenset(
    {
        LedgerKind.instance_fees,
        LedgerKind.outside_world,
        LedgerKind.payouts_in_flight,
        LedgerKind.instance_loss,
    }
)
# Keyed by name: a peer's domain, or (provider_fees) the funding provider's name.
BY_DOMAIN = frozenset(
    {
        LedgerKind.escrow_peer,
        LedgerKind.peer_payable,
        LedgerKind.peer_receivable,
        LedgerKind.provider_fees,
    }
)


class TransferSpec(NamedTuple):
    key: str
    debit_id: int
    credit_id: int
    amount: int
    kind: TransferKind
    period: str = ""
    click_id: int | None = None
    reference: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.key,
            "debit_id": self.debit_id,
            "credit_id": self.credit_id,
            "amount": self.amount,
            "kind": self.kind,
            "period": self.period,
            "click_id": self.click_id,
            "reference": self.reference,
        }


async def ledger_account_ids(
    session: AsyncSession, settings: Settings, owners: Iterable[Owner]
) -> dict[Owner, int]:
    """The ids of these owners' ledger accounts, created where missing (driver-level, for
    bulk; a concurrent creator of the same account is ignored, not an error)."""
    wanted = {owner.key: owner for owner in owners}
    found = await account_ids_by_key(session, list(wanted))
    # Sorted: concurrent creators of the same accounts then wait on each other in one
    # order instead of deadlocking.
    missing = sorted(key for key in wanted if key not in found)
    if missing:
        now = db_time(await session.connection(), utcnow())
        await insert_accounts(
            session, [_new_row(settings, key, wanted[key], now) for key in missing]
        )
        found.update(await account_ids_by_key(session, missing))
    return {owner: found[key] for key, owner in wanted.items()}


def _new_row(settings: Settings, key: str, owner: Owner, now: object) -> tuple[object, ...]:
    kind = owner.kind.value
    return (
        key,
        kind,
        settings.currency,
        owner.account_id,
        owner.identity_id,
        owner.peer_domain,
        0,
        now,
    )


async def ledger_accounts(
    session: AsyncSession, settings: Settings, owners: Sequence[Owner]
) -> dict[Owner, LedgerAccount]:
    """The ledger accounts (ORM rows) of these owners, created where missing."""
    ids = await ledger_account_ids(session, settings, owners)
    result = await session.exec(
        select(LedgerAccount)
        .where(col(LedgerAccount.id).in_(list(ids.values())))
        .execution_options(populate_existing=True)
    )
    by_id = {account.id: account for account in result}
    return {owner: by_id[account_id] for owner, account_id in ids.items()}


async def ledger_account(session: AsyncSession, settings: Settings, owner: Owner) -> LedgerAccount:
    return (await ledger_accounts(session, settings, [owner]))[owner]


def _same(existing: Transfer, spec: TransferSpec) -> bool:
    return (
        existing.debit_id,
        existing.credit_id,
        existing.amount,
        existing.kind,
        existing.period,
        existing.click_id,
    ) == (spec.debit_id, spec.credit_id, spec.amount, spec.kind, spec.period, spec.click_id)


async def _existing(session: AsyncSession, spec: TransferSpec) -> Transfer | None:
    result = await session.exec(select(Transfer).where(Transfer.idempotency_key == spec.key))
    existing = result.first()
    if existing is not None and not _same(existing, spec):
        raise IdempotencyConflict(
            f"a different transfer was already posted with the key {spec.key!r}"
        )
    return existing


def check_amount(amount: object) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed("an amount must be a positive whole number of minor units")
    if amount > AMOUNT_CEILING:
        raise ValidationFailed(f"an amount is at most {AMOUNT_CEILING} minor units")
    return amount


async def post_transfer(session: AsyncSession, spec: TransferSpec) -> tuple[Transfer, bool]:
    """Post one transfer; a repeat of the same key and contents is a no-op (created False)."""
    check_amount(spec.amount)
    existing = await _existing(session, spec)
    if existing is not None:
        return existing, False
    transfer = Transfer(**spec.row())
    try:
        async with session.begin_nested():
            session.add(transfer)
    except IntegrityError:
        # Lost a race with a concurrent post of the same key.
        raced = await _existing(session, spec)
        if raced is None:
            raise
        return raced, False
    await apply_deltas(session, {spec.credit_id: spec.amount, spec.debit_id: -spec.amount})
    return transfer, True


async def apply_deltas(session: AsyncSession, deltas: Mapping[int, int]) -> None:
    """Move cached balances; a debit that would take a NON_NEGATIVE account below zero fails."""
    table = LedgerAccount.__table__  # type: ignore[attr-defined]
    kinds = [kind.value for kind in NON_NEGATIVE]
    for account_id in sorted(deltas):  # one lock order everywhere: no deadlocks
        delta = deltas[account_id]
        if abs(delta) > 2 * AMOUNT_CEILING:
            raise CeilingExceeded()
        statement = update(table).where(table.c.id == account_id)
        if delta < 0:
            statement = statement.where(
                or_(table.c.kind.not_in(kinds), table.c.balance + delta >= 0),
                table.c.balance + delta >= -AMOUNT_CEILING,
            )
        else:
            statement = statement.where(table.c.balance + delta <= AMOUNT_CEILING)
        result = await session.exec(statement.values(balance=table.c.balance + delta))
        if result.rowcount != 1:
            await _refused(session, account_id, delta)


async def _refused(session: AsyncSession, account_id: int, delta: int) -> None:
    """Why a conditional balance update changed no row."""
    account = await session.get(LedgerAccount, account_id, populate_existing=True)
    if account is None:
        raise MissingAccount(f"no ledger account {account_id}")
    if delta < 0 and account.kind in NON_NEGATIVE and account.balance + delta < 0:
        raise InsufficientFunds("not enough funds for this transfer")
    raise CeilingExceeded()


TRANSFER_COLUMNS = (
    "idempotency_key",
    "debit_id",
    "credit_id",
    "amount",
    "kind",
    "period",
    "click_id",
    "reference",
    "created_at",
)


async def post_many(session: AsyncSession, specs: Sequence[TransferSpec]) -> int:
    """Bulk post for jobs whose caller holds the locks (see `post_rows`)."""
    if not specs:
        return 0
    now = db_time(await session.connection(), utcnow())
    # TransferSpec's fields are TRANSFER_COLUMNS' order, the time last.
    return await post_rows(session, [(*spec, now) for spec in specs])


# TRANSFER_COLUMNS' values: key, debit, credit, amount, kind, period, click, reference, time.
TransferRow = tuple[str, int, int, int, str, str, int | None, str, object]


async def post_rows(session: AsyncSession, rows: Sequence[TransferRow]) -> int:
    """Bulk post rows already in TRANSFER_COLUMNS' order: plain INSERTs (COPY on
    PostgreSQL; a duplicate key is a bug and fails the transaction), then one balance update
    per account, then a check that no NON_NEGATIVE account went below zero. The close
    builds its million rows as tuples directly, which saves a TransferSpec each."""
    if not rows:
        return 0
    deltas: dict[int, int] = {}
    get = deltas.get
    for _, debit, credit, amount, *_rest in rows:
        if type(amount) is not int or not 0 < amount <= AMOUNT_CEILING:
            check_amount(amount)
        deltas[credit] = get(credit, 0) + amount
        deltas[debit] = get(debit, 0) - amount
    if any(abs(delta) > 2 * AMOUNT_CEILING for delta in deltas.values()):
        raise CeilingExceeded()  # beyond it whatever the balance: not even sent
    await copy_rows(session, "transfer", TRANSFER_COLUMNS, rows)
    # Balances last: their row locks are then held only from here to the commit, so bulk
    # postings in concurrent transactions (the close's workers) overlap their inserts.
    # An account whose deltas cancel out is still named: it must exist.
    try:
        await add_to_balances(session, deltas)
    except IntegrityError as error:  # the balance CHECK: the only one an UPDATE can break
        raise CeilingExceeded() from error
    debited = sorted(account for account, delta in deltas.items() if delta < 0)
    for start in range(0, len(debited), 5000):
        negative = await session.exec(
            select(LedgerAccount.id).where(
                col(LedgerAccount.id).in_(debited[start : start + 5000]),
                col(LedgerAccount.kind).in_([kind.value for kind in NON_NEGATIVE]),
                col(LedgerAccount.balance) < 0,
            )
        )
        if negative.first() is not None:
            raise InsufficientFunds("a bulk posting would overdraw an account")
    return len(rows)


async def balance_of(session: AsyncSession, settings: Settings, owner: Owner) -> int:
    result = await session.exec(select(LedgerAccount.balance).where(LedgerAccount.key == owner.key))
    return int(result.first() or 0)
