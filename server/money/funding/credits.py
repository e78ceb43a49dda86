"""The wallet credits an admin reviews: newest first, with the donor, the amount, the
provider, its payment id, and the admin who made it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import Account, Transfer
from server.models.money_in import WalletCredit


@dataclass(frozen=True)
class CreditLine:
    created_at: datetime
    donor: str
    amount: int
    provider: str
    reference: str
    admin: str  # "" for a provider's credit


async def recent_credits(session: AsyncSession, limit: int = 20) -> list[CreditLine]:
    donor = aliased(Account)
    admin = aliased(Account)
    query = (
        select(WalletCredit, Transfer.amount, donor.username, admin.username)
        .join(Transfer, col(Transfer.id) == WalletCredit.transfer_id)
        .join(donor, col(donor.id) == WalletCredit.donor_id)
        .outerjoin(admin, col(admin.id) == WalletCredit.admin_id)
        .order_by(col(WalletCredit.id).desc())
        .limit(limit)
    )
    return [
        CreditLine(
            credit.created_at, donor_name, amount, credit.provider, credit.reference, by or ""
        )
        for credit, amount, donor_name, by in (await session.exec(query)).all()
    ]
