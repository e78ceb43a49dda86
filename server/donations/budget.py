"""Donors' money settings: monthly budget within the instance's limits, pause, anonymity."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import ValidationFailed
from server.models import DonorSettings
from server.models.base import utcnow
from server.money.amounts import format_amount, format_money
from server.settings import Settings


async def donor_settings(
    session: AsyncSession, settings: Settings, account_id: int
) -> DonorSettings:
    """The donor's settings; defaults (not stored) for a donor who never changed them."""
    row = await session.get(DonorSettings, account_id)
    return row or DonorSettings(account_id=account_id, monthly_budget=settings.budget_default)


def check_budget(settings: Settings, amount: int) -> int:
    if not settings.budget_min <= amount <= settings.budget_max:
        raise ValidationFailed(
            f"the monthly budget must be between {format_amount(settings.budget_min, settings)} "
            f"and {format_money(settings.budget_max, settings)}",
            field="monthly_budget",
        )
    return amount


async def update_donor_settings(
    session: AsyncSession,
    settings: Settings,
    account_id: int,
    *,
    monthly_budget: int | None = None,
    paused: bool | None = None,
    anonymous: bool | None = None,
) -> DonorSettings:
    row = await session.get(DonorSettings, account_id, with_for_update=True)
    if row is None:
        row = DonorSettings(account_id=account_id, monthly_budget=settings.budget_default)
    if monthly_budget is not None:
        row.monthly_budget = check_budget(settings, monthly_budget)
    if paused is not None:
        row.paused = paused
    if anonymous is not None:
        row.anonymous = anonymous
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    return row
