"""remote notes lose a url on a foreign origin

A remote note's `url` is its web address only on the note's own host (the host of its id,
`server.federation.origins`); a cached note that named a page elsewhere (a local profile,
someone's site) could take the likes of that page. Such notes get their id as their
address, as a note that names no `url` has.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003_federation"  # creates the note table

BATCH = 5000

note = sa.table(
    "note",
    sa.column("id", sa.Integer),
    sa.column("uri", sa.String),
    sa.column("url", sa.String),
    sa.column("is_local", sa.Boolean),
)


def _host(url: str) -> str:
    """As server.federation.origins.host_of (a migration keeps its own copy of the rule)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return "" if "@" in parts.netloc else parts.netloc.lower()


def _foreign(uri: str, url: str) -> bool:
    host = _host(url)
    return not host or host != _host(uri)


def upgrade() -> None:
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(note.c.id, note.c.uri, note.c.url)
            .where(
                note.c.id > last,
                note.c.is_local.is_(sa.false()),
                note.c.url != "",
                note.c.url != note.c.uri,
            )
            .order_by(note.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        foreign = [row.id for row in rows if _foreign(row.uri, row.url)]
        if foreign:
            connection.execute(sa.update(note).where(note.c.id.in_(foreign)).values(url=note.c.uri))


def downgrade() -> None:
    """The dropped addresses are not kept: nothing to restore."""
