"""Every table module is imported here so that SQLModel.metadata knows the whole schema."""

from __future__ import annotations

from server.models.accounts import Account, ApiToken
from server.models.actors import Actor
from server.models.federation import Follow, InboxItem, PeerInbox
from server.models.jobs import Job, JobState
from server.models.notes import Note, NoteLike, NoteShare, StatusIdempotency

__all__ = [
    "Account",
    "Actor",
    "ApiToken",
    "Follow",
    "InboxItem",
    "Job",
    "JobState",
    "Note",
    "NoteLike",
    "NoteShare",
    "PeerInbox",
    "StatusIdempotency",
]
