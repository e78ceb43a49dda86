"""Password reset links sent by e-mail: the token is stored hashed, used once, and void after
its hour or once the password changed after it was sent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class PasswordReset(SQLModel, table=True):
    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the link's token
    # SHA-256 of the password hash when the link was sent: a later change voids the link.
    password_mark: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
