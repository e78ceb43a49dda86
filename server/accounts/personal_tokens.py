"""What a person does with their access on the settings pages: personal access tokens
(made with chosen scopes, shown once, revoked) and the apps they authorized. Each function
owns its session or transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.accounts import tokens
from server.accounts.tokens import TokenView
from server.db.engine import Database
from server.domain_errors import FieldChecks, NotFound, ServiceError, ValidationFailed
from server.models import Account

MAX_NAME = 100


@dataclass(frozen=True)
class TokensPage:
    tokens: Sequence[TokenView]
    new_token: str | None = None  # shown this once
    error: ServiceError | None = None


async def tokens_page(db: Database, account_id: int) -> TokensPage:
    async with db.session() as session:
        return TokensPage(await tokens.personal_tokens(session, account_id))


async def create_personal_token(
    db: Database, account_id: int, name: str, scopes: Sequence[str]
) -> TokensPage:
    """A new token with the chosen scopes, and the page that shows it once; or the page
    with the refusal."""
    try:
        async with db.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("no such account")
            checks = FieldChecks()  # a missing name and no scope are refused at once
            if not name.strip() or len(name) > MAX_NAME:
                checks.add(
                    ValidationFailed(
                        f"give the token a name of 1-{MAX_NAME} characters", field="name"
                    )
                )
            if not scopes:
                checks.add(ValidationFailed("choose at least one scope", field="scopes"))
            checks.done()
            secret = await tokens.create_token(session, account, " ".join(scopes), name.strip())
    except ServiceError as error:
        page = await tokens_page(db, account_id)
        return TokensPage(page.tokens, None, error)
    page = await tokens_page(db, account_id)
    return TokensPage(page.tokens, secret)


async def revoke_personal_token(db: Database, account_id: int, token_id: int) -> None:
    async with db.transaction() as session:
        await tokens.revoke_personal_token(session, account_id, token_id)
