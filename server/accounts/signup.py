"""Signing up: the account is created and what this instance already knows to be its own
(money liked before sign-up) is claimed for it, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from server.accounts.accounts import NewAccount, create_account
from server.db.engine import Database
from server.escrow.claims import claim_own_identities
from server.models import Account
from server.settings import Settings


@dataclass(frozen=True)
class SignedUp:
    account: Account
    moved: int  # escrow that arrived in the new account's available balance


async def sign_up(db: Database, settings: Settings, new: NewAccount) -> SignedUp:
    async with db.transaction() as session:
        account = await create_account(session, settings, new)
        claims = await claim_own_identities(session, settings, int(account.id or 0))
    return SignedUp(account, sum(claim.moved for claim in claims))
