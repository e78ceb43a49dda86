"""Budgets of requests a network charges or caps for the whole instance (X bills each read
by the month; YouTube gives a project 10,000 quota units a day): a network module spends
from its `Budget` before each call, and when the budget says no, raises `BudgetSpent` and
sends nothing.

A network with a budget declares it on its class (`budget_terms`, a `BudgetTerms`): the
admin's key in `[bridges.<name>]` and the limit without it, its `Period` (a calendar month or
day in a time zone, whose `key` names the running one: "2026-12" for X's UTC month, the
Pacific date for YouTube's day), and what the admin's networks page calls it. The server reads
those terms and nothing else of the network, and hands in a budget kept in its database,
shared by every worker (`server.connections.usage.DatabaseBudget`); `MemoryBudget` counts in
one process (tests, a single worker); without one, nothing is counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, Protocol


@dataclass(frozen=True)
class Period:
    """A budget's running period: a calendar month or day in `zone`."""

    unit: Literal["month", "day"]
    zone: tzinfo = UTC

    def key(self, now: datetime | None = None) -> str:
        """The running period's name: "2026-12" for a month, "2026-12-06" for a day."""
        local = (now or datetime.now(UTC)).astimezone(self.zone)
        return local.strftime("%Y-%m") if self.unit == "month" else local.date().isoformat()

    def next_start(self, now: datetime | None = None) -> datetime:
        """The first moment of the next period (midnight in `zone`)."""
        local = (now or datetime.now(UTC)).astimezone(self.zone)
        following = local.date() + timedelta(days=1)
        if self.unit == "month":
            following = date(local.year + local.month // 12, local.month % 12 + 1, 1)
        return datetime.combine(following, time(), self.zone)

    def seconds_left(self, now: datetime | None = None) -> float:
        """Seconds until the next period begins (at least one)."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        return max((self.next_start(moment) - moment).total_seconds(), 1.0)


@dataclass(frozen=True)
class BudgetTerms:
    """The instance-wide budget a network module spends from, as its class declares it."""

    key: str  # the admin's key in `[bridges.<name>]` ("monthly_requests")
    default: int  # the limit when the admin did not set the key (0: no budget)
    period: Period
    label: str  # what the admin's networks page calls it ("Requests this month")

    def limit(self, table: Mapping[str, object]) -> int:
        """The admin's limit from their table (numbers may come as text), else the default."""
        value = table.get(self.key)
        return self.default if value is None or value == "" else int(str(value))


class Budget(Protocol):
    async def spend(self, period: str, amount: int) -> bool:
        """Take `amount` from the period's budget; False (nothing taken) when it would go
        over."""
        ...


class Unlimited:
    async def spend(self, period: str, amount: int) -> bool:
        return True


class MemoryBudget:
    """`limit` a period, counted in this process only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used: dict[str, int] = {}

    async def spend(self, period: str, amount: int) -> bool:
        if self.used.get(period, 0) + amount > self.limit:
            return False
        self.used[period] = self.used.get(period, 0) + amount
        return True
