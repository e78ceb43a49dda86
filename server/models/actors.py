from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class Actor(SQLModel, table=True):
    """A local or cached remote ActivityPub actor; local ones hold their private keys."""

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", unique=True)
    is_local: bool = False
    type: str = Field(default="Person", max_length=32)
    username: str = Field(max_length=255)
    domain: str = Field(max_length=255, index=True)
    inbox: str = Field(default="", max_length=2048)
    outbox: str = Field(default="", max_length=2048)
    shared_inbox: str = Field(default="", max_length=2048)
    followers_url: str = Field(default="", max_length=2048)
    name: str = Field(default="", max_length=255)
    summary: str = Field(default="", sa_type=Text)
    url: str = Field(default="", max_length=2048)
    icon_url: str = Field(default="", max_length=2048)
    # A remote actor's header image, and its profile fields (PropertyValue attachments) as
    # JSON [{"name": plain text, "value": sanitized HTML}]; a local one's are its account's.
    header_url: str = Field(default="", max_length=2048)
    fields: str = Field(default="", sa_type=Text)
    key_id: str = Field(default="", max_length=2048, index=True)
    public_key_pem: str = Field(default="", sa_type=Text)
    private_key_pem: str | None = Field(default=None, sa_type=Text)
    ed25519_public_multibase: str = Field(default="", max_length=128)
    ed25519_private_pem: str | None = Field(default=None, sa_type=Text)
    payment_link: str = Field(default="", max_length=2048)
    fetched_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    tombstoned_at: datetime | None = None
