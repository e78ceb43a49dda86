"""Direct messages to unclaimed fediverse creators, and who asked not to get them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class NoticeState(enum.StrEnum):
    sent = "sent"  # the message is queued for delivery (the delivery job retries it)
    gone = "gone"  # the actor answered 404/410 or was deleted: nothing sent this month


class CreatorNotice(SQLModel, table=True):
    """The month's one message to a creator whose shares wait in escrow: written in the
    transaction that queues its delivery, so a creator never gets two in a month. Its
    token names the public page the message links to."""

    __tablename__ = "creator_notice"
    __table_args__ = (
        UniqueConstraint("creator_uri", "month"),
        CheckConstraint(in_enum("state", NoticeState), name="creator_notice_state_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    creator_uri: str = Field(max_length=2048)
    month: str = Field(max_length=7)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    token: str = Field(max_length=64, unique=True)
    state: NoticeState = Field(default=NoticeState.sent, sa_type=enum_type(NoticeState))
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    supporters: int = 0
    returns_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class OptOutVia(enum.StrEnum):
    block = "block"  # a Block of the instance actor (its Undo lifts it)
    reply = "reply"  # a note to the instance actor saying stop


class NoticeOptOut(SQLModel, table=True):
    """An actor who asked for no more notices: never messaged again."""

    __tablename__ = "notice_opt_out"

    id: int | None = Field(default=None, primary_key=True)
    actor_uri: str = Field(max_length=2048, unique=True)
    via: str = Field(max_length=16)
    activity_id: str = Field(default="", max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)
