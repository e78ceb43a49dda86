"""Media attachments: images a local account uploaded, attached to at most one note."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class MediaAttachment(SQLModel, table=True):
    """An uploaded image: the re-encoded original and its preview live under the data
    directory (`media/attachments/`), named by `file_name` and `preview_name`. Or a remote
    note's attachment: `remote_url` where it lives (never downloaded), no account and no
    file here, `content_type` its mediaType."""

    __tablename__ = "media_attachment"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    note_id: int | None = Field(default=None, foreign_key="note.id", index=True)
    file_name: str = Field(max_length=64)
    preview_name: str = Field(max_length=64)
    content_type: str = Field(max_length=32)
    size: int = 0  # bytes of the stored original
    width: int = 0
    height: int = 0
    preview_width: int = 0
    preview_height: int = 0
    focus_x: float = 0.0
    focus_y: float = 0.0
    description: str = Field(default="", sa_type=Text)
    blurhash: str = Field(default="", max_length=64)
    remote_url: str = Field(default="", max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)
