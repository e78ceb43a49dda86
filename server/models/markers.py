"""Timeline read markers: where an account stopped reading its home timeline and its
notifications, kept so that another app of the same person resumes there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import utcnow

MARKER_TIMELINES = ("home", "notifications")


class Marker(SQLModel, table=True):
    """One per (account, timeline). `version` counts the saves, as Mastodon's `lock_version`
    does; `last_read_id` is the entity id the client sent (a status or notification id)."""

    __table_args__ = (
        UniqueConstraint("account_id", "timeline", name="uq_marker_account_timeline"),
        CheckConstraint("timeline = 'home' OR timeline = 'notifications'", name="marker_timeline"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    timeline: str = Field(max_length=16)
    last_read_id: str = Field(max_length=64)
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow)
