"""Every table module is imported here so that SQLModel.metadata knows the whole schema."""

from __future__ import annotations

from server.models.accounts import Account, ApiToken
from server.models.actors import Actor
from server.models.jobs import Job, JobState

__all__ = ["Account", "Actor", "ApiToken", "Job", "JobState"]
