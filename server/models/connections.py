"""Donors' accounts on bridged networks, the likes found there, and connections in progress."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class ConnectionState(enum.StrEnum):
    active = "active"  # polled
    paused = "paused"  # the donor switched it off: not polled, its likes do not count
    needs_reauth = "needs_reauth"  # the network refused the token: the donor signs in again
    revoked = "revoked"  # disconnected: credentials erased, the row kept for its likes' history


class ConnectedAccount(SQLModel, table=True):
    """A donor's account on one network: encrypted credentials, where polling resumes,
    and what the donor's status line says."""

    __tablename__ = "connected_account"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "network", "external_id", name="uq_connected_account_donor_identity"
        ),
        CheckConstraint(in_enum("state", ConnectionState), name="connected_account_state_valid"),
        # The sweep: active accounts whose next poll is due.
        Index("ix_connected_account_state_next_poll", "state", "next_poll_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    network: str = Field(max_length=32)
    external_id: str = Field(max_length=2048, index=True)  # the donor's own id there
    handle: str = Field(default="", max_length=255)
    profile_url: str = Field(default="", max_length=2048)
    credentials: str = Field(default="", sa_type=Text)  # secrets.seal(...) of the JSON
    scopes: str = Field(default="", max_length=500)
    cursor: str = Field(default="", sa_type=Text)
    state: ConnectionState = Field(
        default=ConnectionState.active, sa_type=enum_type(ConnectionState)
    )
    enabled: bool = True  # the donor's switch: off while paused
    last_checked_at: datetime | None = None
    last_error: str = Field(default="", max_length=500)
    next_poll_at: datetime | None = None
    # The round of pages being read: when it began (None: between rounds) and how many pages
    # it read so far; `cursor` is where it continues.
    round_started_at: datetime | None = None
    round_pages: int = 0
    failures: int = 0  # consecutive failed polls, for the backoff
    likes_counted: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BridgeLikeOutcome(enum.StrEnum):
    counted = "counted"  # a click of the open period
    already_counted = "already_counted"  # the donor already clicked the thing this period
    before_period = "before_period"  # liked before the open period: shown, not charged
    self_like = "self_like"  # the donor's own identity
    paused = "paused"  # the donor's donations (or this connection) were paused
    unclicked = "unclicked"  # the like went away on the network before the close
    refused = "refused"  # not a donor (suspended), or an item we could not use


class BridgeLike(SQLModel, table=True):
    """One like a connected account gave, seen once: (donor, network, item) is unique, so a
    re-poll, a restart or two workers never make a second click."""

    __tablename__ = "bridge_like"
    __table_args__ = (
        UniqueConstraint("account_id", "network", "item_id", name="uq_bridge_like_donor_item"),
        CheckConstraint(in_enum("outcome", BridgeLikeOutcome), name="bridge_like_outcome_known"),
        Index("ix_bridge_like_connection_seen", "connected_account_id", "first_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connected_account_id: int = Field(foreign_key="connected_account.id")
    account_id: int = Field(foreign_key="account.id")
    network: str = Field(max_length=32)
    item_id: str = Field(max_length=2048)
    like_id: str = Field(default="", max_length=2048)
    item_url: str = Field(default="", max_length=2048)
    title: str = Field(default="", max_length=300)
    creator_handle: str = Field(default="", max_length=255)
    liked_at: datetime | None = None
    first_seen_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    period: str = Field(default="", max_length=7)  # the period it was counted in
    click_id: int | None = None  # the click it made (none: see outcome)
    thing_id: int | None = None
    outcome: BridgeLikeOutcome = Field(sa_type=enum_type(BridgeLikeOutcome))


class ConnectAttempt(SQLModel, table=True):
    """A connection in progress: what `start_connect` asked us to keep (a PKCE verifier, a
    registered client's secret, a proof code), sealed, until the donor comes back."""

    __tablename__ = "connect_attempt"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)  # sha256 of the OAuth `state`
    account_id: int = Field(foreign_key="account.id", index=True)
    network: str = Field(max_length=32)
    handle: str = Field(default="", max_length=255)
    pending: str = Field(default="", sa_type=Text)  # secrets.seal(...) of the JSON
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class BridgeUsage(SQLModel, table=True):
    """One network's polling on one day (UTC), for the admin's networks page. It limits
    nothing: the budgets networks spend from are kept in `bridge_budget`."""

    __tablename__ = "bridge_usage"
    __table_args__ = (UniqueConstraint("network", "day", name="uq_bridge_usage_network_day"),)

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=32)
    day: date
    polls: int = 0  # pages asked for (each a poll job that reached the network, or tried to)
    requests: int = 0  # requests made to the network (a poll with a token refresh makes two)
    errors: int = 0  # polls that failed (not counting rate limits)
    rate_limited: int = 0  # polls the network told to wait (429, a spent quota or budget)


class BridgeBudget(SQLModel, table=True):
    """What a network module spent of an instance-wide budget in one of its periods (X's
    requests in a UTC month "2026-12", YouTube's quota units on a Pacific date
    "2026-12-07"): `server.connections.usage.DatabaseBudget` takes from it atomically."""

    __tablename__ = "bridge_budget"

    network: str = Field(primary_key=True, max_length=32)
    period: str = Field(primary_key=True, max_length=16)
    used: int = 0
