"""What the client API adds to notes: mentions, hashtags and bookmarks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class NoteMention(SQLModel, table=True):
    """An actor a note mentions (a `Mention` tag): local or cached remote."""

    __tablename__ = "note_mention"
    __table_args__ = (UniqueConstraint("note_id", "actor_id"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    actor_id: int = Field(foreign_key="actor.id", index=True)


class NoteTag(SQLModel, table=True):
    """A hashtag of a note (a `Hashtag` tag), by its lower-case name."""

    __tablename__ = "note_tag"
    __table_args__ = (
        UniqueConstraint("note_id", "name"),
        Index("ix_note_tag_name_note_id", "name", "note_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    name: str = Field(max_length=100)


class Bookmark(SQLModel, table=True):
    """A note an account bookmarked; lists page by this row's id."""

    __table_args__ = (
        UniqueConstraint("account_id", "note_id"),
        Index("ix_bookmark_account_id_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    note_id: int = Field(foreign_key="note.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
