"""A donor's connected fediverse account is the donor too: the Likes its actor sends to our
inbox count at once as the donor's clicks, without waiting for the next poll.

The inbox hands over the Likes it recorded (actor, liked object, activity id); those whose
actor is a connected account's identity (`connected_account.external_id` is the actor URI)
become clicks on the note they name, as `server/connections/notes.py` names it, with
source `activitypub` and the Like's id as `source_ref`. The poll seeing the same favourite
later makes no second click: the click contract allows one per donor, thing and period,
and the poll's row records it as already counted. An Undo of such a Like unclicks it.

A paused or disconnected account links nothing; one that needs its donor to sign in again
still does (the Like is signed by the actor, no token is involved).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.connections.notes import note_thing
from server.donations.clicks import record_click, remove_click
from server.models import ConnectedAccount, ConnectionState
from server.settings import Settings

LINKING_STATES = (ConnectionState.active, ConnectionState.needs_reauth)
SOURCE = "activitypub"


async def _donors(session: AsyncSession, actor_uris: set[str]) -> dict[str, list[int]]:
    """The donors each actor is linked to (usually none: one indexed lookup per batch)."""
    if not actor_uris:
        return {}
    query = select(ConnectedAccount.external_id, ConnectedAccount.account_id).where(
        ConnectedAccount.network == "fediverse",
        col(ConnectedAccount.external_id).in_(actor_uris),
        col(ConnectedAccount.state).in_([state.value for state in LINKING_STATES]),
    )
    donors: dict[str, list[int]] = {}
    for actor_uri, account_id in (await session.exec(query)).all():
        donors.setdefault(actor_uri, []).append(account_id)
    return donors


async def count_linked_likes(
    session: AsyncSession, settings: Settings, likes: Sequence[tuple[str, str, str]]
) -> int:
    """Make clicks of the (actor URI, object URI, Like id) Likes whose actor is linked to a
    donor, in the caller's transaction; returns how many clicks were made."""
    donors = await _donors(session, {actor for actor, _, _ in likes})
    made = 0
    for actor_uri, object_uri, like_id in likes:
        linked = donors.get(actor_uri)
        if not linked:
            continue
        thing = await note_thing(session, object_uri)
        if thing is None:
            continue
        for donor_id in linked:
            outcome = await record_click(
                session,
                settings,
                donor_account_id=donor_id,
                thing=thing,
                source=SOURCE,
                source_ref=like_id[:2048],
            )
            made += outcome == "recorded"
    return made


async def uncount_linked_like(
    session: AsyncSession, settings: Settings, actor_uri: str, like_id: str
) -> bool:
    """The linked actor undid its Like: the click it made goes (before the close)."""
    removed = False
    for donor_id in (await _donors(session, {actor_uri})).get(actor_uri, []):
        removed |= await remove_click(
            session, settings, donor_account_id=donor_id, source_ref=like_id
        )
    return removed
