"""Creators' identities, likeable things, donors' clicks and money settings, periods."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class Identity(SQLModel, table=True):
    """Who a creator is on one network; claimed by a local account or a peer's actor."""

    __table_args__ = (UniqueConstraint("network", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=32)
    external_id: str = Field(max_length=2048)
    handle: str = Field(default="", max_length=255)
    profile_url: str = Field(default="", max_length=2048)
    claimed_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    claimed_by_actor_uri: str = Field(default="", max_length=2048)
    claimed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ThingKind(enum.StrEnum):
    local_post = "local_post"
    activitypub = "activitypub"
    external = "external"


class Thing(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    kind: str = Field(max_length=16)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    title: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class Click(SQLModel, table=True):
    """A donor's like of a thing in one period; at most one per donor, thing and period.
    Ids are never reused (AUTOINCREMENT on SQLite), so a stale id names no newer click."""

    __table_args__ = (
        UniqueConstraint("donor_id", "thing_id", "period"),
        Index("ix_click_period_donor", "period", "donor_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="account.id")
    thing_id: int = Field(foreign_key="thing.id", index=True)
    period: str = Field(max_length=7)
    source: str = Field(max_length=64)
    source_ref: str | None = Field(default=None, max_length=2048, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class DonorSettings(SQLModel, table=True):
    __tablename__ = "donor_settings"

    account_id: int = Field(primary_key=True, foreign_key="account.id")
    monthly_budget: int = Field(sa_column=Column(BigInteger, nullable=False))
    paused: bool = False
    anonymous: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class PeriodStage(enum.StrEnum):
    open = "open"
    closing = "closing"
    closed = "closed"


class Period(SQLModel, table=True):
    """A UTC calendar month ("2026-11"); its close is a resumable job staged here."""

    __table_args__ = (
        CheckConstraint(in_enum("stage", PeriodStage), name="period_stage_valid"),
        # A closing or closed period says when its close began; a closed one when it ended.
        CheckConstraint("stage = 'open' OR closing_at IS NOT NULL", name="period_closing_at"),
        CheckConstraint("stage <> 'closed' OR closed_at IS NOT NULL", name="period_closed_at"),
    )

    id: str = Field(primary_key=True, max_length=7)
    stage: PeriodStage = Field(default=PeriodStage.open, sa_type=enum_type(PeriodStage))
    closing_at: datetime | None = None
    closed_at: datetime | None = None


class DonorStage(enum.StrEnum):
    pending = "pending"
    done = "done"


class DonorPeriod(SQLModel, table=True):
    """Per donor progress of a period's close, and what it decided."""

    __tablename__ = "donor_period"
    __table_args__ = (
        CheckConstraint(in_enum("stage", DonorStage), name="donor_period_stage_valid"),
        CheckConstraint("stage <> 'done' OR closed_at IS NOT NULL", name="donor_period_closed_at"),
    )

    period: str = Field(primary_key=True, max_length=7)
    donor_id: int = Field(primary_key=True, foreign_key="account.id")
    stage: DonorStage = Field(default=DonorStage.pending, sa_type=enum_type(DonorStage), index=True)
    budget: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    fee: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    clicks: int = 0
    closed_at: datetime | None = None
