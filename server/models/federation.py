"""Federation state: received activities, follows between actors, peer inbox health."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class InboxState(enum.StrEnum):
    pending = "pending"  # stored, not processed yet
    done = "done"
    ignored = "ignored"  # nothing to do (the reason is in `error`)
    failed = "failed"  # the activity could not be applied (the error says why)


class FollowState(enum.StrEnum):
    pending = "pending"  # awaiting the followee's answer
    accepted = "accepted"
    rejected = "rejected"


class InboxItem(SQLModel, table=True):
    """A verified incoming activity, stored before the 202; its id is processed once."""

    __tablename__ = "inbox_item"
    __table_args__ = (
        CheckConstraint(in_enum("state", InboxState), name="inbox_item_state_valid"),
        CheckConstraint(
            "state = 'pending' OR processed_at IS NOT NULL", name="inbox_item_processed_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(max_length=2048, unique=True)
    actor_uri: str = Field(max_length=2048)
    type: str = Field(max_length=64)
    body: str = Field(sa_type=Text)
    state: InboxState = Field(default=InboxState.pending, sa_type=enum_type(InboxState), index=True)
    error: str = Field(default="", sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None


class Follow(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("follower_id", "followee_id"),
        CheckConstraint(in_enum("state", FollowState), name="follow_state_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    follower_id: int = Field(foreign_key="actor.id", index=True)
    followee_id: int = Field(foreign_key="actor.id", index=True)
    activity_id: str = Field(max_length=2048)
    state: FollowState = Field(default=FollowState.pending, sa_type=enum_type(FollowState))
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
