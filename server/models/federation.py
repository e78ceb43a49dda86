"""Federation state: received activities, follows between actors, peer inbox health."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import utcnow

INBOX_PENDING = "pending"
INBOX_DONE = "done"
INBOX_IGNORED = "ignored"
INBOX_FAILED = "failed"

FOLLOW_PENDING = "pending"
FOLLOW_ACCEPTED = "accepted"
FOLLOW_REJECTED = "rejected"


class InboxItem(SQLModel, table=True):
    """A verified incoming activity, stored before the 202; its id is processed once."""

    __tablename__ = "inbox_item"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(max_length=2048, unique=True)
    actor_uri: str = Field(max_length=2048)
    type: str = Field(max_length=64)
    body: str = Field(sa_type=Text)
    state: str = Field(default=INBOX_PENDING, max_length=16, index=True)
    error: str = Field(default="", sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None


class Follow(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("follower_id", "followee_id"),)

    id: int | None = Field(default=None, primary_key=True)
    follower_id: int = Field(foreign_key="actor.id", index=True)
    followee_id: int = Field(foreign_key="actor.id", index=True)
    activity_id: str = Field(max_length=2048)
    state: str = Field(default=FOLLOW_PENDING, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class PeerInbox(SQLModel, table=True):
    """Delivery health of one remote inbox: an inbox that keeps failing is retried less."""

    __tablename__ = "peer_inbox"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048, unique=True)
    failures: int = 0
    unavailable: bool = False
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
