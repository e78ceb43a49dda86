"""How much each network is polled: daily counters (`bridge_usage`), the budget of a
pay-per-read network, and the admin's per-network view.

A poll adds to its network's row of the day in the poll's own transaction (one upsert), so
a crash loses no count and doubles none. X charges per read: it is offered only when the
admin sets `[bridges.x] monthly_requests`, and once the month's requests reach it, polls stop
until the next month begins, and every X donor's status line says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.errors import BudgetSpent
from server.db.engine import Database
from server.db.upsert import dialect_insert, insert_ignoring_duplicates
from server.donations.periods import period_of, period_start
from server.models import BridgeBudget, BridgeUsage, ConnectedAccount, ConnectionState


@dataclass(frozen=True)
class Counts:
    polls: int = 0
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0


async def add(session: AsyncSession, network: str, now: datetime, counts: Counts) -> None:
    """Add one poll's counts to the network's row of the day."""
    table = BridgeUsage.__table__  # type: ignore[attr-defined]
    insert = dialect_insert(session, table)
    values = {
        "polls": counts.polls,
        "requests": counts.requests,
        "errors": counts.errors,
        "rate_limited": counts.rate_limited,
    }
    statement = insert.values(network=network, day=now.date(), **values)
    statement = statement.on_conflict_do_update(
        index_elements=["network", "day"],
        set_={name: getattr(statement.excluded, name) + table.c[name] for name in values},
    )
    await session.exec(statement)


def month_bounds(now: datetime) -> tuple[date, datetime]:
    """The running month's first day and the moment the next month begins (UTC)."""
    start = period_start(period_of(now))
    following = (start + timedelta(days=32)).replace(day=1)
    return start.date(), following


async def requests_this_month(session: AsyncSession, network: str, now: datetime) -> int:
    first, _ = month_bounds(now)
    total = await session.exec(
        select(func.coalesce(func.sum(BridgeUsage.requests), 0)).where(
            BridgeUsage.network == network, col(BridgeUsage.day) >= first
        )
    )
    return int(total.one())


async def check_budget(
    session: AsyncSession, network: str, label: str, budget: int, now: datetime
) -> None:
    """Raise `BudgetSpent` when a budgeted network has used its month (budget 0: none set)."""
    if budget <= 0:
        return
    used = await requests_this_month(session, network, now)
    if used >= budget:
        _, following = month_bounds(now)
        wait = max((following - now).total_seconds(), 1.0)
        raise BudgetSpent(
            f"this instance's {label} request budget for the month is spent ({used} of "
            f"{budget}); checks resume on {following:%Y-%m-%d}",
            wait,
        )


@dataclass(frozen=True)
class DatabaseBudget:
    """An instance-wide budget (`bridges.budgets.Budget`) kept in `bridge_budget`, shared by
    every worker: a spend is one conditional UPDATE, so two workers never both take the last
    request. It runs in a transaction of its own: the request it pays for is made whatever
    becomes of the poll."""

    db: Database
    network: str
    limit: int

    async def spend(self, period: str, amount: int) -> bool:
        period = period[:16]
        table = BridgeBudget.__table__  # type: ignore[attr-defined]
        async with self.db.transaction() as session:
            await session.exec(
                insert_ignoring_duplicates(session, table).values(
                    network=self.network, period=period, used=0
                )
            )
            taken = await session.exec(
                update(table)
                .where(
                    table.c.network == self.network,
                    table.c.period == period,
                    table.c.used + amount <= self.limit,
                )
                .values(used=table.c.used + amount)
            )
            return bool(taken.rowcount)


async def spent(db: Database, network: str, period: str) -> int:
    """What the network's budget has given out in `period` (0 when nothing yet)."""
    async with db.reading() as session:
        row = await session.get(BridgeBudget, (network, period))
    return row.used if row is not None else 0


@dataclass(frozen=True)
class NetworkUsage:
    """One network on the admin's page."""

    name: str
    label: str
    active: int  # connected accounts being polled
    paused: int
    needs_reauth: int
    polls: int  # in the last day (today and yesterday's rows, UTC)
    errors: int
    rate_limited: int
    budget: int  # the budget's limit (0: no budget)
    used: int  # what it gave out in its running period
    budget_label: str = "Requests this month"


@dataclass(frozen=True)
class Offered:
    """A network on offer, as the admin's page shows it."""

    label: str
    budget: int = 0  # its budget's limit (0: none)
    budget_label: str = "Requests this month"
    budget_period: str = ""  # the budget's running period ("" : count from bridge_usage)


async def usage(db: Database, offered: dict[str, Offered], now: datetime) -> list[NetworkUsage]:
    """Each offered network and each network that still has connected accounts, with its
    counts."""
    since = (now - timedelta(days=1)).date()
    first, _ = month_bounds(now)
    async with db.reading() as session:
        states = (
            await session.exec(
                select(ConnectedAccount.network, ConnectedAccount.state, func.count()).group_by(
                    col(ConnectedAccount.network), col(ConnectedAccount.state)
                )
            )
        ).all()
        recent = (
            await session.exec(
                select(
                    BridgeUsage.network,
                    func.sum(BridgeUsage.polls),
                    func.sum(BridgeUsage.errors),
                    func.sum(BridgeUsage.rate_limited),
                )
                .where(col(BridgeUsage.day) >= since)
                .group_by(col(BridgeUsage.network))
            )
        ).all()
        month = (
            await session.exec(
                select(BridgeUsage.network, func.sum(BridgeUsage.requests))
                .where(col(BridgeUsage.day) >= first)
                .group_by(col(BridgeUsage.network))
            )
        ).all()
    by_state: dict[str, dict[ConnectionState, int]] = {}
    for network, state, count in states:
        by_state.setdefault(network, {})[ConnectionState(state)] = int(count)
    last_day = {network: (int(p), int(e), int(r)) for network, p, e, r in recent}
    used = {network: int(total) for network, total in month}
    names = list(offered) + sorted(set(by_state) - set(offered))
    rows = []
    for name in names:
        shown = offered.get(name, Offered(name))
        counts = by_state.get(name, {})
        given = used.get(name, 0)
        if shown.budget and shown.budget_period:
            given = await spent(db, name, shown.budget_period)
        polls, errors, limited = last_day.get(name, (0, 0, 0))
        rows.append(
            NetworkUsage(
                name=name,
                label=shown.label,
                active=counts.get(ConnectionState.active, 0),
                paused=counts.get(ConnectionState.paused, 0),
                needs_reauth=counts.get(ConnectionState.needs_reauth, 0),
                polls=polls,
                errors=errors,
                rate_limited=limited,
                budget=shown.budget,
                used=given,
                budget_label=shown.budget_label,
            )
        )
    return rows
