"""What a local account keeps about others: whom it blocks, mutes, and which domains."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class Block(SQLModel, table=True):
    """A local account blocks an actor (local or remote): no follows either way, and the
    actor's likes, follows and posts stop reaching the account."""

    __table_args__ = (UniqueConstraint("account_id", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    target_id: int = Field(foreign_key="actor.id", index=True)
    activity_id: str = Field(default="", max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)


class Mute(SQLModel, table=True):
    """A local account mutes an actor: its posts leave the account's home timeline."""

    __table_args__ = (UniqueConstraint("account_id", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    target_id: int = Field(foreign_key="actor.id", index=True)
    notifications: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class DomainBlock(SQLModel, table=True):
    """A local account blocks a whole domain: every actor there is treated as blocked."""

    __tablename__ = "domain_block"
    __table_args__ = (UniqueConstraint("account_id", "domain"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    domain: str = Field(max_length=255, index=True)
    created_at: datetime = Field(default_factory=utcnow)
