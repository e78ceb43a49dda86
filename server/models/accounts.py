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
    # The profile as its owner typed it (`summary` is the HTML shown): bio, up to four
    # fields as a JSON list of {"name", "value"}, images under <data_dir>/media/accounts/.
    note_source: str = Field(default="", max_length=2000)
    fields: str = Field(default="[]", max_length=4000)
    avatar_path: str = Field(default="", max_length=255)
    header_path: str = Field(default="", max_length=255)
    bot: bool = False
    # Posting defaults a client reads back in verify_credentials' `source`.
    privacy: str = Field(default="public", max_length=16)
    sensitive: bool = False
    language: str = Field(default="", max_length=16)
    # The interface language chosen at sign-up from an app (Mastodon's user locale, e.g.
    # "en" or "pt-BR"); "" for the instance's. Not the posting language (`language`).
    locale: str = Field(default="", max_length=16)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    # None for an application's own token (the client_credentials grant).
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    name: str = Field(default="", max_length=100)
    scopes: str = Field(default="read write", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    # Issued through OAuth to this application (None: a personal access token).
    application_id: int | None = Field(default=None, foreign_key="oauth_application.id", index=True)
    refresh_hash: str | None = Field(default=None, max_length=64, unique=True)
