"""Telling another instance, once, that money waits for its creators here.

When shares are held for creators on an instance we have no agreement with, and that
instance's NodeInfo says it settles, our instance actor sends its instance actor one
direct note (a `Create` of a `Note`, HTTP-signed like every delivery): how much waits, for
how many creators, and how to agree. The delivery job's dedupe key makes it once per
instance. The receiving admin sees it on the peers page (`notices_to_instance`).
"""

from __future__ import annotations

import html
import json
import uuid

from sqlmodel import col, select

from activitypub.builders import NoteSpec, build_create, build_note
from activitypub.client import ActivityPubClient
from server.accounts.actors import instance_actor
from server.db.engine import Database
from server.domain_errors import ServiceError
from server.federation.delivery import DELIVERY_JOB
from server.federation.remote import RemoteActors
from server.jobs.queue import enqueue
from server.models import InboxItem, Job
from server.models.base import utcnow
from server.money.amounts import format_money
from server.settings import Settings
from server.settlement.peering import discover, waiting_instances

SUMMARY = "Money is waiting for creators on your instance"


def notice_key(domain: str) -> str:
    return f"money-waiting:{domain}"


async def tell_waiting_instances(
    db: Database, settings: Settings, remote: RemoteActors, client: ActivityPubClient
) -> list[str]:
    """Queue the one-time note to each settling instance that money waits for; returns
    the domains told now."""
    told: list[str] = []
    for waiting in await waiting_instances(db):
        if waiting.state:  # an agreement exists (proposed, suspended or ended)
            continue
        async with db.session() as session:
            sent = await session.exec(
                select(Job.id).where(Job.dedupe_key == notice_key(waiting.domain))
            )
            if sent.first() is not None:
                continue
        try:
            profile = await discover(remote, client, settings, waiting.domain)
        except ServiceError:
            continue  # not a settling instance (or unreachable now: asked again next time)
        money = format_money(waiting.amount, settings)
        text = (
            f"Supporters on {settings.domain} have set aside {money} for {waiting.creators} "
            f"creators on your instance. To receive it, agree to settle with us: "
            f"likewise peers add {settings.domain}"
        )
        async with db.transaction() as session:
            ours = await instance_actor(session, settings)
            if ours is None:
                return told
            note_id = f"{settings.base_url}/notices/{uuid.uuid4()}"
            note = build_note(
                NoteSpec(
                    id=note_id,
                    attributed_to=ours.uri,
                    content=f"<p>{html.escape(text)}</p>",
                    published=utcnow(),
                    to=(profile.actor_uri,),
                    summary=SUMMARY,
                )
            )
            activity = build_create(f"{note_id}/activity", ours.uri, note)
            queued = await enqueue(
                session,
                DELIVERY_JOB,
                {"actor_id": ours.id, "inbox": profile.inbox, "body": json.dumps(activity)},
                dedupe_key=notice_key(waiting.domain),
            )
            if queued is not None:
                told.append(waiting.domain)
    return told


async def notices_to_instance(db: Database, settings: Settings) -> list[tuple[str, str]]:
    """(sender actor, text) of the notes other instances addressed to our instance actor."""
    ours = f"{settings.base_url}/actor"
    async with db.session() as session:
        rows = await session.exec(
            select(InboxItem.actor_uri, InboxItem.body)
            .where(InboxItem.type == "Create", col(InboxItem.body).contains(SUMMARY))
            .order_by(col(InboxItem.id).desc())
            .limit(50)
        )
        found = rows.all()
    notices = []
    for actor, body in found:
        data = json.loads(body)
        note = data.get("object") if isinstance(data, dict) else None
        if not isinstance(note, dict) or ours not in (note.get("to") or []):
            continue
        content = str(note.get("content", ""))
        text = html.unescape(content.replace("<p>", "").replace("</p>", ""))
        notices.append((actor, text))
    return notices
