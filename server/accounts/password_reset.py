"""Password reset by e-mail. Asking always gets the same answer, whether an account goes by
that name or address or not; an account that exists gets a link with a one-time token
(stored hashed) that works for an hour, once, and not after the password changed since.
Setting the new password follows the sign-up rule and ends every session of the account."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.accounts import check_password, set_password
from server.accounts.mail import Mail, MailFailed, send_mail
from server.accounts.tokens import hash_token, new_secret
from server.db.engine import Database
from server.domain_errors import FieldChecks, Kind, ServiceError, ValidationFailed
from server.models import Account
from server.models.base import utcnow
from server.models.password_resets import PasswordReset
from server.settings import ConfigError, Settings

log = logging.getLogger("likewise.password_reset")

LINK_LIFETIME = timedelta(hours=1)
LINKS_PER_ACCOUNT_HOUR = 3  # more asks in an hour send nothing more (the answer is the same)
ASKS_PER_CLIENT_HOUR = 10  # asks from one address, whatever they name
RESET_PATH = "/password/reset/"


class TooManyAsks(ServiceError):
    kind = Kind.unavailable
    code = "too_many_requests"


class LinkVoid(ServiceError):
    """The link expired, was used, or the password changed since it was sent."""

    kind = Kind.invalid
    code = "reset_link_void"


VOID = "this link has expired or was used already: ask for a new one"


@dataclass
class AskWindow:
    """How often each client address asked in the last hour (kept in the app's memory: a
    restart forgets, which only lets a few more asks through)."""

    limit: int = ASKS_PER_CLIENT_HOUR
    seconds: float = 3600.0
    asks: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        recent = self.asks.setdefault(client, deque())
        while recent and recent[0] <= now - self.seconds:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True


def password_mark(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()


def _mail(settings: Settings, account: Account, token: str) -> Mail:
    link = f"{settings.base_url}{RESET_PATH}{token}"
    text = (
        f"Hello @{account.username},\n\n"
        f"someone (we hope you) asked to set a new password for your account on "
        f"{settings.name}. Open this link within an hour to choose one:\n\n{link}\n\n"
        "The link works once. If you did not ask, ignore this message: your password stays "
        "as it is.\n"
    )
    return Mail(to=account.email, subject=f"Set a new password on {settings.name}", text=text)


async def _account_named(session: AsyncSession, login: str) -> Account | None:
    needle = login.strip().lower().lstrip("@")
    found = await session.exec(
        select(Account).where((Account.username == needle) | (Account.email == needle))
    )
    return found.first()


def checked_login(login: str) -> str:
    text = login.strip()
    if not text or len(text) > 254:
        raise ValidationFailed("give your username or e-mail address", field="login")
    return text


async def ask_reset(
    db: Database, settings: Settings, login: str, *, client: str, window: AskWindow
) -> Mail | None:
    """The message to send when `login` names an account that may have one more link this
    hour; None otherwise (the person is told the same either way)."""
    checked = checked_login(login)
    if not window.allow(client):
        raise TooManyAsks("too many password reset requests from your address; try in an hour")
    token = new_secret()
    async with db.transaction() as session:
        account = await _account_named(session, checked)
        if account is None or account.id is None or account.suspended_at is not None:
            return None
        since = utcnow() - timedelta(hours=1)
        sent = await session.exec(
            select(func.count())
            .select_from(PasswordReset)
            .where(PasswordReset.account_id == account.id, col(PasswordReset.created_at) > since)
        )
        if int(sent.one()) >= LINKS_PER_ACCOUNT_HOUR:
            return None
        session.add(
            PasswordReset(
                account_id=account.id,
                token_hash=hash_token(token),
                password_mark=password_mark(account.password_hash),
                expires_at=utcnow() + LINK_LIFETIME,
            )
        )
        return _mail(settings, account, token)


async def _live_link(session: AsyncSession, token: str) -> tuple[PasswordReset, Account]:
    row = (
        await session.exec(
            select(PasswordReset)
            .where(PasswordReset.token_hash == hash_token(token))
            .with_for_update()
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise LinkVoid(VOID)
    account = await session.get(Account, row.account_id)
    if (
        account is None
        or account.suspended_at is not None
        or password_mark(account.password_hash) != row.password_mark
    ):
        raise LinkVoid(VOID)
    return row, account


async def link_is_live(db: Database, token: str) -> bool:
    async with db.session() as session:
        try:
            await _live_link(session, token)
        except LinkVoid:
            return False
    return True


async def reset_password(db: Database, token: str, new_password: str) -> str:
    """Set the new password through a live link, used up at once; every session of the
    account ends. The account's username."""
    checks = FieldChecks()
    checks.check(check_password, new_password, "new_password")
    checks.done()
    async with db.transaction() as session:
        row, account = await _live_link(session, token)
        row.used_at = utcnow()
        session.add(row)
        await set_password(session, account, new_password)
        return account.username


async def send_link(settings: Settings, mail: Mail) -> None:
    """Send the link after the answer went out (the answer takes as long whether an account
    exists or not); a mail server that fails is logged for the admin."""
    try:
        await send_mail(settings, mail)
    except (MailFailed, ConfigError):  # the answer went out: the admin reads the log
        log.exception("event=password_reset_mail_failed")
