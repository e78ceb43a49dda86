"""Notifications: what happened to a local account (a follow, a favourite, a mention, a
month's donations sent...), kept until the account dismisses them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class Notification(SQLModel, table=True):
    """One notification for `account_id` from the actor `actor_id` (local or remote).
    `dedupe_key`, when set, makes a notification once only (a month's close is repeatable);
    `data` holds a Likewise type's JSON details (amounts, the month)."""

    __table_args__ = (Index("ix_notification_account_id_id", "account_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    type: str = Field(max_length=32)
    actor_id: int = Field(foreign_key="actor.id", index=True)
    note_id: int | None = Field(default=None, foreign_key="note.id", index=True)
    data: str = Field(default="", sa_type=Text)
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    dismissed_at: datetime | None = None
