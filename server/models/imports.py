"""Data-export imports: one uploaded export (a batch) and the likes it held, kept until the
donor confirms. A like is unique per (donor, network, item): re-importing the same or an
overlapping export finds its rows and adds none."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class ImportState(enum.StrEnum):
    uploaded = "uploaded"  # the file is stored, its job queued
    parsing = "parsing"  # the job reads it (progress_done of progress_total)
    previewed = "previewed"  # read: the donor sees what it holds and confirms or cancels
    confirmed = "confirmed"  # the donor said yes: its likes of the open period are counted
    counted = "counted"  # clicks made
    failed = "failed"  # the file was refused or unreadable (`error` says why)
    cancelled = "cancelled"  # the donor (or a newer upload of the network) discarded it


class ImportBatch(SQLModel, table=True):
    """One uploaded export of one donor, read by the `imports.parse` job."""

    __tablename__ = "import_batch"
    __table_args__ = (
        CheckConstraint(in_enum("state", ImportState), name="import_batch_state_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    network: str = Field(default="", max_length=32)  # "" until detected
    state: ImportState = Field(default=ImportState.uploaded, sa_type=enum_type(ImportState))
    file_name: str = Field(default="", max_length=255)
    upload_path: str = Field(default="", max_length=1024)  # "" once deleted
    size_bytes: int = 0
    step: str = Field(default="", max_length=32)  # what the job does now: reading, resolving, …
    progress_done: int = 0
    progress_total: int = 0
    found: int = 0  # likes in the file
    in_period: int = 0  # of the new ones: in the open period, will count
    older: int = 0  # before the open period (or undated on a first import): not charged
    unresolved: int = 0  # no creator known: waits
    duplicates: int = 0  # already brought by an earlier import
    skipped: int = 0  # entries that were not likes (the parser's count)
    counted: int = 0  # clicks made on confirmation
    creators: int = 0  # distinct creators of the new likes
    first_liked_at: datetime | None = None
    last_liked_at: datetime | None = None
    notes: str = Field(default="", sa_type=Text)  # the parser's notes, one a line
    error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ImportLikeOutcome(enum.StrEnum):
    waiting = "waiting"  # read, the donor has not confirmed
    counted = "counted"  # a click of the open period
    already_counted = "already_counted"  # the donor clicked the thing this period another way
    before_period = "before_period"  # liked before the open period: listed, not charged
    self_like = "self_like"  # the donor's own identity
    paused = "paused"  # the donor's donations were paused
    unresolved = "unresolved"  # no creator known (an X like without a handle, a status not found)
    refused = "refused"  # an item we cannot use


class ImportLike(SQLModel, table=True):
    """One like an import brought, once per (donor, network, item)."""

    __tablename__ = "import_like"
    __table_args__ = (
        UniqueConstraint("account_id", "network", "item_id", name="uq_import_like_donor_item"),
        CheckConstraint(in_enum("outcome", ImportLikeOutcome), name="import_like_outcome_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="import_batch.id", index=True)
    account_id: int = Field(foreign_key="account.id")
    network: str = Field(max_length=32)
    item_id: str = Field(max_length=2048)
    item_url: str = Field(default="", max_length=2048)
    title: str = Field(default="", max_length=300)
    creator_network: str = Field(default="", max_length=32)  # "" while unresolved
    creator_id: str = Field(default="", max_length=2048)
    creator_handle: str = Field(default="", max_length=255)
    creator_url: str = Field(default="", max_length=2048)
    liked_at: datetime | None = None
    outcome: ImportLikeOutcome = Field(
        default=ImportLikeOutcome.waiting, sa_type=enum_type(ImportLikeOutcome)
    )
    period: str = Field(default="", max_length=7)  # the period it was counted in
    click_id: int | None = None
