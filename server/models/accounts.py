from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=30, unique=True, index=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    is_admin: bool = False
    display_name: str = Field(default="", max_length=100)
    summary: str = Field(default="", max_length=2000)
    locked: bool = False
    discoverable: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    suspended_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    name: str = Field(default="", max_length=100)
    scopes: str = Field(default="read write", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
