"""Notes (local posts and cached remote ones) and the Likes and Announces they received."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    url: str = Field(default="", max_length=2048)
    author_id: int = Field(foreign_key="actor.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    is_local: bool = False
    content: str = Field(default="", sa_type=Text)
    summary: str = Field(default="", max_length=2000)
    visibility: str = Field(default="public", max_length=16)
    in_reply_to: str = Field(default="", max_length=2048)
    # The replied-to note and its author, when we hold them (in_reply_to is its URI).
    in_reply_to_id: int | None = Field(default=None, foreign_key="note.id", index=True)
    in_reply_to_author_id: int | None = Field(default=None, foreign_key="actor.id")
    # A reblog is a note of its own (its uri the Announce's id) pointing at what it shares.
    reblog_of_id: int | None = Field(default=None, foreign_key="note.id", index=True)
    language: str = Field(default="", max_length=16)
    sensitive: bool = False
    # The OAuth application a local status was posted from (None: the web, a personal
    # access token, or a remote note): Mastodon's `application` of the author's own status.
    application_id: int | None = Field(default=None, foreign_key="oauth_application.id")
    # A local status's text as its author typed it (`content` is the HTML made of it):
    # Mastodon's `text`, given back when the status is deleted, for "delete and redraft".
    source_text: str = Field(default="", sa_type=Text)
    published_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None
    deleted_at: datetime | None = None


class NoteLike(SQLModel, table=True):
    """A Like (or, if enabled, an EmojiReact) of a note by any actor, local or remote."""

    __tablename__ = "note_like"
    __table_args__ = (UniqueConstraint("note_id", "actor_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    actor_uri: str = Field(max_length=2048)
    activity_id: str = Field(max_length=2048, unique=True)
    kind: str = Field(default="Like", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class NoteShare(SQLModel, table=True):
    __tablename__ = "note_share"
    __table_args__ = (UniqueConstraint("note_id", "actor_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    actor_uri: str = Field(max_length=2048)
    activity_id: str = Field(max_length=2048, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class StatusIdempotency(SQLModel, table=True):
    """`Idempotency-Key` of a status creation, per account."""

    __tablename__ = "status_idempotency"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    key: str = Field(max_length=255)
    note_id: int = Field(foreign_key="note.id")
    created_at: datetime = Field(default_factory=utcnow)
