"""What a person does with their own account on the web and through the API (logging in,
their sessions, their password), and the count the home page shows: each function owns its
session or transaction."""

from __future__ import annotations

from collections.abc import Sequence

from server.accounts import accounts
from server.accounts.sessions import SessionView, end_sessions, live_sessions
from server.db.engine import Database
from server.models import Account


async def account_count(db: Database) -> int:
    async with db.session() as session:
        return await accounts.count_accounts(session)


async def log_in(db: Database, login: str, password: str) -> Account | None:
    """The account for a username or e-mail and password, or None."""
    async with db.session() as session:
        return await accounts.authenticate(session, login, password)


async def sessions_of(db: Database, account_id: int) -> Sequence[SessionView]:
    async with db.session() as session:
        return await live_sessions(session, account_id)


async def end_all_sessions(db: Database, account_id: int) -> int:
    """End every browser session of the account; how many ended."""
    async with db.transaction() as session:
        return await end_sessions(session, account_id)


async def change_password(
    db: Database, account_id: int, current: str, new: str, session_id: int | None
) -> int:
    """Change the password (the current one first); the other sessions end: how many."""
    async with db.transaction() as session:
        return await accounts.change_password(session, account_id, current, new, session_id)
