"""Accounts: creation, lookup, log-in and passwords. Each account gets its ActivityPub actor."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.actors import build_local_actor
from server.accounts.passwords import (
    MIN_PASSWORD_LENGTH,
    dummy_hash,
    hash_password,
    verify_password,
)
from server.accounts.sessions import end_sessions
from server.domain_errors import Conflict, FieldChecks, NotFound, ValidationFailed
from server.models import Account
from server.models.base import utcnow
from server.settings import Settings
from server.text_checks import has_control_characters

USERNAME_PATTERN = re.compile(r"[a-z0-9_]{1,30}")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LOCALE_PATTERN = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}")
DEFAULT_LOCALE = "en"  # the instance's language (the instance entity's `languages`)
RESERVED_USERNAMES = frozenset(
    {"actor", "admin", "api", "inbox", "instance", "likewise", "root", "static", "support"}
)


@dataclass(frozen=True)
class NewAccount:
    username: str
    email: str
    password: str
    is_admin: bool = False
    display_name: str = ""
    locale: str = ""  # "" for the instance's


class NotIncluded(ValidationFailed):
    """A value outside the allowed ones (Mastodon's ERR_INCLUSION)."""

    code = "inclusion"


def valid_locale(value: str) -> str:
    """A locale Babel (CLDR) knows, written as Mastodon writes them ("en", "pt-BR",
    "zh-TW", "sr-Latn"); NotIncluded for anything else."""
    text = value.strip()
    if not LOCALE_PATTERN.fullmatch(text):
        raise NotIncluded("Locale is not included in the list", field="locale")
    first, *rest = re.split(r"[-_]", text)
    parts = [first.lower(), *(part.title() if len(part) == 4 else part.upper() for part in rest)]
    try:
        parsed = Locale.parse("_".join(parts))
    except (ValueError, UnknownLocaleError) as error:
        raise NotIncluded("Locale is not included in the list", field="locale") from error
    # Babel fills in likely subtags ("zh_TW" reads as zh_Hant_TW) but also swaps an
    # unknown region for a likely one ("en_ZZ" reads as en_US): the parts given must stay.
    if parsed.language != parts[0] or not set(parts[1:]) <= {parsed.script, parsed.territory}:
        raise NotIncluded("Locale is not included in the list", field="locale")
    return "-".join(parts)


def normalize_username(username: str) -> str:
    return username.strip().lstrip("@").lower()


def check_password(password: str, field: str) -> None:
    """The one password rule of sign-up, a password change and a reset."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field=field
        )


def _username(text: str) -> str:
    username = normalize_username(text)
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed(
            "username must be 1-30 letters, digits or underscores", field="username"
        )
    if username in RESERVED_USERNAMES:
        raise ValidationFailed(f"the username {username!r} is reserved", field="username")
    return username


def _email(text: str) -> str:
    email = text.strip().lower()
    if len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        raise ValidationFailed("that is not an e-mail address", field="email")
    return email


def _locale(text: str) -> str:
    return valid_locale(text) if text.strip() else ""


async def _clashes(session: AsyncSession, username: str, email: str) -> list[str]:
    """Which of the (valid) username and e-mail another account already has."""
    taken = await session.exec(
        select(Account).where((Account.username == username) | (Account.email == email))
    )
    clashes = {"username": False, "email": False}
    for account in taken.all():
        clashes["username"] |= account.username == username
        clashes["email"] |= account.email == email
    return [which for which, clash in clashes.items() if clash]


async def _validate(session: AsyncSession, new: NewAccount) -> NewAccount:
    """The new account's values cleaned; every wrong or taken one refused at once, in the
    order of the sign-up form."""
    first = FieldChecks()
    username = first.check(_username, new.username) or ""  # "" matches no account
    email = first.check(_email, new.email) or ""
    taken = await _clashes(session, username, email)
    checks = FieldChecks()
    for which in ("username", "email"):
        refused = [error for error in first.errors if error.field == which]
        if which in taken:
            refused.append(Conflict(f"that {which} is already taken", field=which))
        for error in refused:
            checks.add(error)
    checks.check(check_password, new.password, "password")
    locale = checks.check(_locale, new.locale) or ""
    checks.done()
    return NewAccount(username, email, new.password, new.is_admin, new.display_name.strip(), locale)


async def create_account(session: AsyncSession, settings: Settings, new: NewAccount) -> Account:
    clean = await _validate(session, new)
    account = Account(
        username=clean.username,
        email=clean.email,
        password_hash=hash_password(clean.password),
        is_admin=clean.is_admin,
        display_name=clean.display_name or clean.username,
        locale=clean.locale,
    )
    session.add(account)
    try:
        await session.flush()
        session.add(build_local_actor(settings, account))
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("that username or email is already taken") from exc
    return account


async def get_account(session: AsyncSession, username: str) -> Account:
    if has_control_characters(username):  # no name holds one; PostgreSQL refuses a NUL
        raise NotFound(f"no account named {username!r}")
    result = await session.exec(
        select(Account).where(Account.username == normalize_username(username))
    )
    account = result.first()
    if account is None:
        raise NotFound(f"no account named {username!r}")
    return account


async def set_suspended(session: AsyncSession, username: str, suspended: bool) -> Account:
    """Suspend (or reinstate) an account: it cannot log in, and peers' settlement lines for
    it are refused (the money stays with the donors' instance)."""
    account = await get_account(session, username)
    account.suspended_at = (account.suspended_at or utcnow()) if suspended else None
    session.add(account)
    if suspended and account.id is not None:
        await end_sessions(session, account.id)  # reinstating must not revive them
    return account


async def set_password(
    session: AsyncSession, account: Account, password: str, *, keep_session_id: int | None = None
) -> int:
    """A new password; every session of the account ends but `keep_session_id` (the one
    that changed it, if any). Returns how many sessions ended."""
    check_password(password, "new_password")
    if account.id is None:
        raise NotFound("the account is not saved yet")
    account.password_hash = hash_password(password)
    session.add(account)
    return await end_sessions(session, account.id, keep_id=keep_session_id)


async def change_password(
    session: AsyncSession, account_id: int, current: str, new: str, session_id: int | None
) -> int:
    """The account holder's own change: the current password first; the other sessions end.
    A wrong current password and a new one too short are both refused at once."""
    account = await session.get(Account, account_id)
    checks = FieldChecks()
    if account is None or not verify_password(account.password_hash, current):
        checks.add(ValidationFailed("that is not your current password", field="current_password"))
    checks.check(check_password, new, "new_password")
    checks.done()
    if account is None:  # refused above
        raise NotFound("no such account")
    return await set_password(session, account, new, keep_session_id=session_id)


async def authenticate(session: AsyncSession, login: str, password: str) -> Account | None:
    """The account for a username or e-mail and password, or None (same cost either way)."""
    needle = login.strip().lower().lstrip("@")
    result = await session.exec(
        select(Account).where((Account.username == needle) | (Account.email == needle))
    )
    account = result.first()
    if account is None:
        verify_password(dummy_hash(), password)
        return None
    if not verify_password(account.password_hash, password) or account.suspended_at:
        return None
    return account


async def list_accounts(session: AsyncSession) -> Sequence[Account]:
    result = await session.exec(select(Account).order_by(col(Account.id)))
    return result.all()


async def count_accounts(session: AsyncSession) -> int:
    result = await session.exec(select(func.count()).select_from(Account))
    return int(result.one())
