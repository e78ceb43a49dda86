from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Text
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from server.models.base import in_enum, utcnow


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Job(SQLModel, table=True):
    """A persisted unit of background work, claimed by one worker under a lease."""

    __table_args__ = (
        Index("ix_job_claim", "state", "run_after"),
        CheckConstraint(in_enum("state", JobState), name="job_state_valid"),
        # A running job is leased; a finished one says when it finished.
        CheckConstraint(
            "state <> 'running' OR locked_until IS NOT NULL", name="job_running_leased"
        ),
        CheckConstraint(
            "state NOT IN ('done', 'failed') OR finished_at IS NOT NULL", name="job_finished_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    payload: str = Field(default="{}", sa_type=Text)
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    state: JobState = Field(
        default=JobState.queued,
        sa_column=Column(
            SAEnum(JobState, name="job_state", native_enum=False, length=16), nullable=False
        ),
    )
    attempts: int = 0
    max_attempts: int = 10
    run_after: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None
    locked_by: str = Field(default="", max_length=64)
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
