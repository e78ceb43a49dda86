"""remote actors' names as plain text: undo the HTML entities they were stored with

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 23:00:00

A remote actor's name was stored through nh3.clean_text, which writes entities ("Carla
Zines" became "Carla&#32;Zines"); pages escaped them again and the client API sent them as
they were. Names are plain text now; this reads back the ones already stored. Local
actors' names never went through it and are left alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import nh3
import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
actor = sa.table("actor", sa.column("id", sa.Integer), sa.column("name", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, name FROM actor WHERE NOT is_local AND name LIKE '%&%'")
    ).all()
    for actor_id, name in rows:
        # As server/federation/remote.py's plain_text now stores a name, from the entities
        plain = CONTROL_CHARACTERS.sub(
            "", html.unescape(nh3.clean(html.unescape(name), tags=set()))
        )[:255]
        if plain != name:
            bind.execute(sa.update(actor).where(actor.c.id == actor_id).values(name=plain))


def downgrade() -> None:
    """Nothing to undo: the entities carried no information the plain names lack."""
