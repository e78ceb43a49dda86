"""What the embeddable like button (/button) reads and does."""

from __future__ import annotations

from dataclasses import dataclass

from server.db.engine import Database
from server.domain_errors import ServiceError
from server.donations.clicks import ThingRef
from server.donations.likes import DonorLike, donor_like, like_count, like_url
from server.settings import Settings


@dataclass(frozen=True)
class ButtonView:
    thing: ThingRef
    count: int  # likes of the thing, all periods together
    liked: DonorLike | None = None  # what the viewer's like counts for, when logged in


@dataclass(frozen=True)
class ButtonLiked:
    outcome: str  # the click's outcome: "recorded", or why nothing was recorded
    view: ButtonView  # as it reads after the like


async def button_view(
    db: Database, settings: Settings, url: str, viewer: int | None = None
) -> ButtonView:
    async with db.session() as session:
        thing, count = await like_count(session, settings, url)
        liked = await donor_like(session, viewer, thing.uri) if viewer is not None else None
    return ButtonView(thing, count, liked)


async def badge_count(db: Database, settings: Settings, url: str) -> int:
    """The like count a badge shows: 0 for a URL no like may name."""
    try:
        return (await button_view(db, settings, url)).count
    except ServiceError:
        return 0


async def like_from_button(db: Database, settings: Settings, who: int, url: str) -> ButtonLiked:
    async with db.transaction() as session:
        outcome, _ = await like_url(session, settings, who, url)
    return ButtonLiked(outcome.value, await button_view(db, settings, url, who))
