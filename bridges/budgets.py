"""Budgets of requests a network charges or caps for the whole instance (X bills each read
by the month; YouTube gives a project 10,000 quota units a day): a network module spends
from its `Budget` before each call, and when the budget says no, raises `BudgetSpent` and
sends nothing.

A budget counts per period, a string the network names ("2026-12" for X's UTC month, the
Pacific date for YouTube's day). The server hands in one kept in its database, shared by
every worker (`server.connections.usage.DatabaseBudget`); `MemoryBudget` counts in one
process (tests, a single worker); without one, nothing is counted.
"""

from __future__ import annotations

from typing import Protocol


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
