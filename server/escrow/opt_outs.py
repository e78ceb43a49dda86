"""Creators who want no more notices: a Block of the instance actor (its Undo lifts it),
or a note to the instance actor (a reply to a notice, or a mention) that says stop (for
good: whatever they block or unblock before or after).

The inbox worker calls these for activities whose HTTP signature was verified and whose
actor is the key's owner, so an opt-out only ever speaks for the actor who sent it."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.actors import instance_actor_uri
from server.db.upsert import dialect_insert, insert_ignoring_duplicates
from server.models import NoticeOptOut
from server.models.base import utcnow
from server.models.notices import OptOutVia
from server.settings import Settings

NOTICE_PATH = "/notices/creators/"  # + the notice's token: the id of a notice's Note
LONGEST_READ = 5000  # a stop reply is short; the patterns never see more of a note
STOP = re.compile(r"\b(stop|unsubscribe|opt[ -]?out)\b", re.IGNORECASE)
MENTION_LINK = re.compile(
    r"<a\b[^>]{0,500}\bmention\b[^>]{0,500}>.{0,500}?</a>", re.IGNORECASE | re.DOTALL
)
TAG = re.compile(r"<[^>]*>")
MENTION = re.compile(r"@[\w.\-]+(@[\w.\-:\[\]]+)?")


def says_stop(content: str) -> bool:
    """Whether a note's HTML asks to stop (mentions, such as our own handle, aside)."""
    text = TAG.sub(" ", MENTION_LINK.sub(" ", content[:LONGEST_READ]))
    text = MENTION.sub(" ", html.unescape(text))
    return STOP.search(text) is not None


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def addresses_us(settings: Settings, note: Mapping[str, object]) -> bool:
    """A reply to one of our notices, or a note that mentions or addresses our instance actor."""
    ours = instance_actor_uri(settings)
    reply = note.get("inReplyTo")
    if isinstance(reply, str) and reply.startswith(settings.base_url + NOTICE_PATH):
        return True
    if ours in _strings(note.get("to")) + _strings(note.get("cc")):
        return True
    tags = note.get("tag")
    tags = tags if isinstance(tags, list) else [tags]
    return any(
        isinstance(tag, Mapping) and tag.get("type") == "Mention" and tag.get("href") == ours
        for tag in tags
    )


async def opt_out(session: AsyncSession, actor_uri: str, via: OptOutVia, activity_id: str) -> None:
    """Record the opt-out (one row an actor). A Block keeps any earlier record; a stop reply
    replaces a Block's (so the Block's Undo cannot lift it) and is never replaced itself."""
    row = {
        "actor_uri": actor_uri,
        "via": via.value,
        "activity_id": activity_id[:2048],
        "created_at": utcnow(),
    }
    if via is OptOutVia.block:
        await session.exec(insert_ignoring_duplicates(session, NoticeOptOut).values(**row))
        return
    await session.exec(
        dialect_insert(session, NoticeOptOut)
        .values(**row)
        .on_conflict_do_update(
            index_elements=[col(NoticeOptOut.actor_uri)],
            set_={key: row[key] for key in ("via", "activity_id", "created_at")},
            where=col(NoticeOptOut.via) == OptOutVia.block.value,
        )
    )


async def lift_block(session: AsyncSession, actor_uri: str, block_id: str | None = None) -> bool:
    """Undo of a Block: the opt-out that Block made goes (a stop reply stays). With
    `block_id` (an Undo naming the Block only by id), only if it names that Block."""
    query = delete(NoticeOptOut).where(
        col(NoticeOptOut.actor_uri) == actor_uri, col(NoticeOptOut.via) == OptOutVia.block.value
    )
    if block_id is not None:
        query = query.where(col(NoticeOptOut.activity_id) == block_id)
    result = await session.exec(query)
    return bool(result.rowcount)


async def is_opted_out(session: AsyncSession, actor_uri: str) -> bool:
    found = await session.exec(
        select(NoticeOptOut.id).where(NoticeOptOut.actor_uri == actor_uri).limit(1)
    )
    return found.first() is not None


async def list_opt_outs(session: AsyncSession) -> list[NoticeOptOut]:
    rows = await session.exec(select(NoticeOptOut).order_by(col(NoticeOptOut.id).desc()))
    return list(rows.all())
