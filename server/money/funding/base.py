"""Money coming in: wallet top-ups, manual (admin) now, a payment provider later.

A top-up is a `Funding` (a provider's webhook would turn its notification into one);
`credit_wallet` books it, once per (provider, reference), so a webhook delivered twice
credits once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import ValidationFailed
from server.models import LedgerKind, Transfer, TransferKind
from server.money.ledger import Owner, TransferSpec, check_amount, ledger_accounts, post_transfer
from server.settings import Settings


@dataclass(frozen=True)
class Funding:
    account_id: int
    amount: int
    reference: str = ""
    provider: str = "manual"


async def credit_wallet(
    session: AsyncSession, settings: Settings, funding: Funding
) -> tuple[Transfer, bool]:
    """Outside world → donor wallet. Returns (transfer, created); a repeat is a no-op."""
    check_amount(funding.amount)
    if len(funding.reference) > 150:
        raise ValidationFailed("the reference is longer than 150 characters", field="reference")
    reference = funding.reference or uuid.uuid4().hex
    world = Owner(LedgerKind.outside_world)
    wallet = Owner(LedgerKind.donor_wallet, account_id=funding.account_id)
    accounts = await ledger_accounts(session, settings, [world, wallet])
    spec = TransferSpec(
        key=f"fund:{funding.provider}:{reference}",
        debit_id=int(accounts[world].id or 0),
        credit_id=int(accounts[wallet].id or 0),
        amount=funding.amount,
        kind=TransferKind.funding,
        reference=reference,
    )
    return await post_transfer(session, spec)
