"""The funding interface: a provider credits a donor's wallet by its own payment id, once.

A provider is one module with one `FundingProvider` (its `name` is part of every transfer
key it makes): `manual` for the admin's form and `likewise wallet credit`, `bank` for bank
statements; a card provider's webhook would be one more. `credit` owns the shared flow:
outside world → donor wallet under the key `fund:<provider>:<payment id>`, and the
`wallet_credit` row saying who made it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import ValidationFailed
from server.models import LedgerKind, Transfer, TransferKind
from server.models.money_in import WalletCredit
from server.money.ledger import Owner, TransferSpec, check_amount, ledger_accounts, post_transfer
from server.settings import Settings

MAX_PAYMENT_ID = 150


@dataclass(frozen=True)
class Funding:
    account_id: int
    amount: int
    reference: str = ""  # the provider's payment id; "" makes a fresh one (never a repeat)
    provider: str = "manual"
    made_by: int | None = None  # the admin's account, when an admin made it


@dataclass(frozen=True)
class Credited:
    transfer: Transfer
    created: bool  # False: that payment id was credited before, and nothing moved now


class FundingProvider:
    """One way money comes in. Subclasses add how their payments are found; crediting is
    the same for all."""

    name = ""

    async def credit(self, session: AsyncSession, settings: Settings, funding: Funding) -> Credited:
        return await _credit(session, settings, funding, self.name)


async def _credit(
    session: AsyncSession, settings: Settings, funding: Funding, provider: str
) -> Credited:
    check_amount(funding.amount)
    if len(funding.reference) > MAX_PAYMENT_ID:
        raise ValidationFailed(
            f"the reference is longer than {MAX_PAYMENT_ID} characters", field="reference"
        )
    reference = funding.reference or uuid.uuid4().hex
    world = Owner(LedgerKind.outside_world)
    wallet = Owner(LedgerKind.donor_wallet, account_id=funding.account_id)
    accounts = await ledger_accounts(session, settings, [world, wallet])
    spec = TransferSpec(
        key=f"fund:{provider}:{reference}",
        debit_id=int(accounts[world].id or 0),
        credit_id=int(accounts[wallet].id or 0),
        amount=funding.amount,
        kind=TransferKind.funding,
        reference=reference,
    )
    transfer, created = await post_transfer(session, spec)
    if created:
        session.add(
            WalletCredit(
                transfer_id=int(transfer.id or 0),
                donor_id=funding.account_id,
                admin_id=funding.made_by,
                provider=provider,
                reference=reference,
            )
        )
        await session.flush()
    return Credited(transfer, created)


async def credit_wallet(
    session: AsyncSession, settings: Settings, funding: Funding
) -> tuple[Transfer, bool]:
    """Outside world → donor wallet. Returns (transfer, created); a repeat is a no-op."""
    if not funding.provider:
        raise ValidationFailed("a funding names its provider")
    done = await _credit(session, settings, funding, funding.provider)
    return done.transfer, done.created
