"""Signing up, on the web or from an app: the account is created and what this instance
already knows to be its own (money liked before sign-up) is claimed for it, in one
transaction; an app also gets a token for the new account."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from server.accounts.accounts import DEFAULT_LOCALE, NewAccount, create_account
from server.accounts.tokens import hash_token, new_secret
from server.db.engine import Database
from server.domain_errors import Forbidden, ValidationFailed
from server.escrow.claims import claim_own_identities
from server.models import Account, ApiToken
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


@dataclass(frozen=True)
class AppSignUp:
    """A sign-up sent by an app with its own token (POST /api/v1/accounts)."""

    application_id: int
    scopes: str  # the app token's: the new user's token gets the same
    new: NewAccount
    agreement: bool
    locale: str = ""  # the person's interface language; "" for the instance's


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    scope: str
    created_at: datetime


async def sign_up_from_app(db: Database, settings: Settings, request: AppSignUp) -> IssuedToken:
    """Mastodon's app sign-up: open registrations and the terms agreed, then the account
    (with what it already owns claimed, its locale the one given or the instance's) and a
    token for the app, in one transaction. A locale Babel does not know is refused."""
    if not settings.registrations:
        raise Forbidden("registrations are closed on this instance")
    if not request.agreement:
        raise ValidationFailed("you must accept the terms of service", field="agreement")
    token = new_secret()
    async with db.transaction() as session:
        new = replace(request.new, locale=request.locale.strip() or DEFAULT_LOCALE)
        account = await create_account(session, settings, new)
        await claim_own_identities(session, settings, int(account.id or 0))
        row = ApiToken(
            account_id=account.id,
            token_hash=hash_token(token),
            scopes=request.scopes,
            application_id=request.application_id,
        )
        session.add(row)
        await session.flush()
    return IssuedToken(token, row.scopes, row.created_at)
