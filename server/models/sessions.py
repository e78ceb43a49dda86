"""Browser sessions: the signed cookie names a row, so a session can be ended server-side."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    key_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the cookie's random key
    user_agent: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
