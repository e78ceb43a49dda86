"""How much each network is polled: daily counters (`bridge_usage`), the instance-wide
budgets network modules spend from (`bridge_budget`), and the admin's per-network view.

A poll adds to its network's row of the day in the poll's own transaction (one upsert), so
a crash loses no count and doubles none; the counters report, they limit nothing. A network
that charges per read or caps a project (X's requests a month, YouTube's quota units a day)
spends from its `DatabaseBudget` before each call and, once it says no, raises `BudgetSpent`
without calling: the poll waits for the next period and the donor's status line says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.db.upsert import dialect_insert, insert_ignoring_duplicates
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
    budget_period: str = ""  # the budget's running period, its row in `bridge_budget`


async def usage(db: Database, offered: dict[str, Offered], now: datetime) -> list[NetworkUsage]:
    """Each offered network and each network that still has connected accounts, with its
    counts."""
    since = (now - timedelta(days=1)).date()
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
    by_state: dict[str, dict[ConnectionState, int]] = {}
    for network, state, count in states:
        by_state.setdefault(network, {})[ConnectionState(state)] = int(count)
    last_day = {network: (int(p), int(e), int(r)) for network, p, e, r in recent}
    names = list(offered) + sorted(set(by_state) - set(offered))
    rows = []
    for name in names:
        shown = offered.get(name, Offered(name))
        counts = by_state.get(name, {})
        given = await spent(db, name, shown.budget_period) if shown.budget else 0
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
