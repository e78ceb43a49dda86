"""Manual funding: an admin credits a donor's wallet (the money page's form, or
`likewise wallet credit`). The payment id is the admin's reference, or, without one, the
key of the form as it was shown, so a reload or a second click credits once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from server.money.forms import checked_form_key
from server.money.funding.base import Credited, Funding, FundingProvider
from server.settings import Settings


class ManualProvider(FundingProvider):
    name = "manual"


MANUAL = ManualProvider()


@dataclass(frozen=True)
class AdminCredit:
    donor_id: int
    amount: int
    reference: str  # the admin's payment reference, or ""
    form_key: str  # the form's key, made when it was shown
    admin_id: int


def payment_id(reference: str, form_key: str) -> str:
    """The admin's reference when given (a repeat of it credits once), else the form's."""
    reference = reference.strip()
    return reference or f"form:{checked_form_key(form_key)}"


async def credit_by_admin(
    session: AsyncSession, settings: Settings, credit: AdminCredit
) -> Credited:
    funding = Funding(
        credit.donor_id,
        credit.amount,
        payment_id(credit.reference, credit.form_key),
        MANUAL.name,
        made_by=credit.admin_id,
    )
    return await MANUAL.credit(session, settings, funding)
