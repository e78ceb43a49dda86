"""OAuth applications registered by clients, and their short-lived authorization codes.
Tokens issued to applications are rows of `api_token` (server/models/accounts.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class OAuthApplication(SQLModel, table=True):
    __tablename__ = "oauth_application"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    secret_hash: str = Field(max_length=64)
    name: str = Field(max_length=200)
    website: str = Field(default="", max_length=2000)
    redirect_uris: str = Field(max_length=4000)  # one a line
    scopes: str = Field(default="read", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class OAuthCode(SQLModel, table=True):
    __tablename__ = "oauth_code"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    application_id: int = Field(foreign_key="oauth_application.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    redirect_uri: str = Field(max_length=2000)
    scopes: str = Field(max_length=500)
    code_challenge: str = Field(default="", max_length=128)
    code_challenge_method: str = Field(default="", max_length=10)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
