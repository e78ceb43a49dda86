"""What the admin writes for everyone: the terms of service and the privacy policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from server.models.base import utcnow


class InstanceText(SQLModel, table=True):
    """One page's text as the admin wrote it (plain text, paragraphs split by a blank
    line); no row means the admin has not written it yet."""

    __tablename__ = "instance_text"

    kind: str = Field(primary_key=True, max_length=16)  # "terms" or "privacy"
    body: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, foreign_key="account.id")
