"""The month close's statements, per database: its hot paths go to the driver directly
(a million clicks), and what differs between SQLite and PostgreSQL (row locks, array
parameters, batch sizes, page cache, statistics) is decided here, never in the close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Final, NamedTuple, cast

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.bulk import fetch_rows, fetch_where_in, id_filter, int_array, placeholders
from server.db.engine import Database

SQLITE_BATCH_SIZE = 5000  # donors per transaction on SQLite
# PostgreSQL writes a new version of each balance row a batch updates; larger batches
# update each creator's account fewer times (a million clicks: 430k updates, not 730k).
POSTGRES_BATCH_SIZE = 10_000
POSTGRES_WORKERS = 2  # batches settled at once on PostgreSQL; SQLite has one writer
SQLITE_CACHE_KIB = 65536  # a bigger page cache keeps the growing indexes in memory
CHUNK = 2000  # ids a statement (on SQLite one placeholder each)


@dataclass(frozen=True)
class CloseTuning:
    """How the close runs on this database."""

    batch_size: int  # donors a transaction
    workers: int  # batches settled at once
    # Whether workers write at once, so that a ledger account several batches need is
    # better created in a short transaction of its own than inside one batch.
    concurrent_writers: bool


def close_tuning(db: Database) -> CloseTuning:
    if db.is_sqlite:
        return CloseTuning(SQLITE_BATCH_SIZE, 1, concurrent_writers=False)
    return CloseTuning(POSTGRES_BATCH_SIZE, POSTGRES_WORKERS, concurrent_writers=True)


# One click of a batch, what the close needs to pay its share: (click, donor, identity,
# the account that claimed the identity or None), the driver's own row read by position.
# Not a named tuple: that is a copy of each row, and a tuple subclass, which the cyclic
# garbage collector never stops tracking (it untracks plain tuples of numbers): a batch's
# tens of thousands of lines were promoted, and walked by every full collection.
ClickLine = tuple[int, int, int, int | None]
CLICK: Final = 0
DONOR: Final = 1
IDENTITY: Final = 2
CLAIMED_BY: Final = 3


class DonorChoice(NamedTuple):
    donor: int
    paused: bool
    monthly_budget: int


# What the close decided for one donor, (budget, fee, clicks, donor): the order the
# PostgreSQL update takes.
DonorOutcome = tuple[int, int, int, int]


async def widen_page_cache(session: AsyncSession) -> None:
    """SQLite: a page cache of SQLITE_CACHE_KIB for this connection's batch."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


DONOR_THEN_CLICK = itemgetter(DONOR, CLICK)
CLICK_LINES_SQL = (
    "SELECT click.id, click.donor_id, thing.identity_id, identity.claimed_account_id "
    "FROM click JOIN thing ON thing.id = click.thing_id "
    "JOIN identity ON identity.id = thing.identity_id "
    "WHERE click.period = {} AND click.donor_id BETWEEN {} AND {} "
    "ORDER BY click.donor_id, click.id"
)
# PostgreSQL sends the same lines as four arrays in one row: asyncpg decodes an array of
# integers in C, where fifty thousand rows would each become a Record first. The four
# aggregates see the rows in one order; SQL does not promise it is the subquery's, so the
# lines are sorted again (in linear time, as they arrive sorted).
CLICK_ARRAYS_SQL = (
    "SELECT array_agg(id), array_agg(donor_id), array_agg(identity_id), "
    "array_agg(claimed_account_id) FROM ({}) AS line"
)


async def click_lines(
    session: AsyncSession, period: str, first_donor: int, last_donor: int
) -> list[ClickLine]:
    """The period's clicks of the donors from `first_donor` to `last_donor`, in donor and
    click order, straight from the driver (a hot path). A range keeps the query on the
    (period, donor) index whatever the planner knows."""
    connection = await session.connection()
    sql = CLICK_LINES_SQL.format(*placeholders(connection, 3))
    values = (period, first_donor, last_donor)
    if connection.dialect.name == "postgresql":
        (columns,) = await fetch_rows(session, CLICK_ARRAYS_SQL.format(sql), values)
        lines: list[ClickLine] = list(zip(*columns, strict=True)) if columns[0] else []
        lines.sort(key=DONOR_THEN_CLICK)
        return lines
    return cast("list[ClickLine]", await fetch_rows(session, sql, values))


async def identities(session: AsyncSession, ids: Sequence[int]) -> list[tuple[int, str, str, str]]:
    """Where these identities live: (id, network, external id, the peer actor whose claim
    of it holds or "") rows."""
    connection = await session.connection()
    found: list[tuple[int, str, str, str]] = []
    for start in range(0, len(ids), CHUNK):
        where, values = id_filter(connection, "id", ids[start : start + CHUNK])
        sql = f"SELECT id, network, external_id, claimed_by_actor_uri FROM identity WHERE {where}"
        rows = await fetch_rows(session, sql, values)
        found.extend(cast("list[tuple[int, str, str, str]]", rows))
    return found


async def lock_balances(session: AsyncSession, account_ids: Sequence[int]) -> dict[int, int]:
    """The balances of these ledger accounts, locked until the transaction ends (in id
    order on PostgreSQL; SQLite's write lock, taken at BEGIN, covers every row)."""
    connection = await session.connection()
    where, values = id_filter(connection, "id", sorted(account_ids))
    lock = "" if connection.dialect.name == "sqlite" else " ORDER BY id FOR NO KEY UPDATE"
    sql = f"SELECT id, balance FROM ledger_account WHERE {where}{lock}"
    return {account: balance for account, balance in await fetch_rows(session, sql, values)}


async def donor_choices(session: AsyncSession, donors: Sequence[int]) -> list[DonorChoice]:
    """The budget settings of those of these donors who have any."""
    connection = await session.connection()
    where, values = id_filter(connection, "account_id", donors)
    sql = f"SELECT account_id, paused, monthly_budget FROM donor_settings WHERE {where}"
    return [
        DonorChoice(donor, bool(paused), budget)
        for donor, paused, budget in await fetch_rows(session, sql, values)
    ]


async def mark_donors_done(
    session: AsyncSession,
    period: str,
    outcomes: Sequence[DonorOutcome],
    stage: str,
    stamp: object,
    *,
    source: str,
) -> None:
    """Record each donor's outcome and move its period row from `source` to `stage` at
    `stamp`."""
    if not outcomes:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        sql = (
            "UPDATE donor_period SET stage = $1, budget = d.budget, fee = d.fee, "
            "clicks = d.clicks, closed_at = $2 FROM unnest($3::text::bigint[], "
            "$4::text::bigint[], $5::text::int[], $6::text::bigint[]) "
            "AS d(budget, fee, clicks, donor) "
            "WHERE donor_period.period = $7 AND donor_period.donor_id = d.donor "
            "AND donor_period.stage = $8"
        )
        columns = [int_array(c) for c in zip(*outcomes, strict=True)]
        await connection.exec_driver_sql(sql, (stage, stamp, *columns, period, source))
        return
    sql = (
        "UPDATE donor_period SET stage = ?, budget = ?, fee = ?, clicks = ?, closed_at = ? "
        "WHERE period = ? AND donor_id = ? AND stage = ?"
    )
    rows = [
        (stage, budget, fee, clicks, stamp, period, donor, source)
        for budget, fee, clicks, donor in outcomes
    ]
    await connection.exec_driver_sql(sql, rows)


async def refresh_escrow_statistics(db: Database) -> None:
    """PostgreSQL: the close wrote up to a line per click; what reads the lines next (the
    settlement preparation it enqueues, the notices) is planned on fresh statistics, not on
    those of before the close (autovacuum analyzes later, or after the next close). SQLite
    plans without them."""
    if db.is_sqlite:
        return
    async with db.transaction() as session:
        await (await session.connection()).execute(text("ANALYZE escrow_line"))


# Where a transfer went, and how much: (the key of the ledger account it credited, None
# when no such account exists; amount).
Movement = tuple[str | None, int]
TRANSFERS_CREDITED = (
    "SELECT transfer.idempotency_key, ledger_account.key, transfer.amount FROM transfer "
    "LEFT JOIN ledger_account ON ledger_account.id = transfer.credit_id"
)


async def transfers_by_key(session: AsyncSession, keys: Sequence[str]) -> dict[str, Movement]:
    """The transfers with these idempotency keys (those that exist), by key. The credited
    account comes by its key, joined on its primary key: the caller knows the key it
    expects, and needs no lookup of its own by key."""
    rows = await fetch_where_in(
        session,
        TRANSFERS_CREDITED,
        "transfer.idempotency_key",
        keys,
        kind="varchar",
        sqlite_chunk=CHUNK,
    )
    return {key: (account, amount) for key, account, amount in rows}


async def recorded_outcomes(session: AsyncSession, period: str) -> list[DonorOutcome]:
    """What the close recorded for each donor of the period, (budget, fee, clicks, donor)
    rows as the driver returns them."""
    connection = await session.connection()
    (mark,) = placeholders(connection, 1)
    sql = f"SELECT budget, fee, clicks, donor_id FROM donor_period WHERE period = {mark}"
    return cast("list[DonorOutcome]", await fetch_rows(session, sql, (period,)))
