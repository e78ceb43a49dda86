"""Money forms book once: each form carries a key made when it was shown, and the action it
causes stores the key in the same transaction. A reload of the POST or a second click
finds the key used and does nothing."""

from __future__ import annotations

import re
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from server.domain_errors import ValidationFailed
from server.models.money_in import MoneyForm

FORM_KEY = re.compile(r"[0-9a-f]{32}")


def new_form_key() -> str:
    return secrets.token_hex(16)


def checked_form_key(key: str) -> str:
    if not FORM_KEY.fullmatch(key):
        raise ValidationFailed("this form is out of date: reload the page and send it again")
    return key


async def use_form_key(session: AsyncSession, key: str, account_id: int, action: str) -> bool:
    """Store the form's key; False when it was used before (the caller then does nothing)."""
    checked_form_key(key)
    if await session.get(MoneyForm, key) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(MoneyForm(key=key, account_id=account_id, action=action))
    except IntegrityError:  # a concurrent submit of the same form won
        return False
    return True
