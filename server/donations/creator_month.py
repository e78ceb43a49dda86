"""What a creator's page says about the open month: the likes each of their posts (and other
things) has had from this instance's donors, and what they would receive if the month
closed now, worked out as the close would (each donor's budget, less the fee, shared
equally among the donor's likes of the month, in click order). Also how a liked thing is
named on a page: its title, else the first words of a post we hold, never a bare address."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.donations.budget import donor_settings
from server.donations.periods import open_period_for
from server.models import Click, Identity, LedgerAccount, LedgerKind, Note, Thing
from server.money.ledger import Owner
from server.money.split import equal_split, fee_of
from server.settings import Settings

TAGS = re.compile(r"<[^>]*>")
FIRST_WORDS = 8
MAX_LABEL = 80


@dataclass(frozen=True)
class ThingMonth:
    """One liked thing of the creator, this month."""

    uri: str
    label: str  # its title or first words
    likes: int
    share: int  # what its likes would bring if the month closed now


@dataclass(frozen=True)
class CreatorMonth:
    period: str
    projected: int  # the month's shares for this creator, if it closed now
    likes: int
    supporters: int  # this instance's donors who liked the creator's things this month
    things: list[ThingMonth]


def first_words(content_html: str, words: int = FIRST_WORDS) -> str:
    """The first words a reader sees of a post's HTML, with "…" when there are more."""
    text = " ".join(html.unescape(TAGS.sub(" ", content_html)).split())
    kept = text.split(" ")[:words]
    short = " ".join(kept)[:MAX_LABEL]
    return short + ("…" if len(short) < len(text) else "")


async def thing_labels(session: AsyncSession, things: Iterable[tuple[str, str]]) -> dict[str, str]:
    """For each (uri, title): the title when it is words, else the first words of the post
    at that address when this instance holds it; "" when neither (the page shows the
    address)."""
    wanted = dict(things)
    labels = {uri: title for uri, title in wanted.items() if title and not _address(title)}
    missing = [uri for uri in wanted if uri not in labels]
    if missing:
        notes = await session.exec(
            select(Note.uri, Note.url, Note.content).where(
                col(Note.uri).in_(missing) | col(Note.url).in_(missing)
            )
        )
        for uri, url, content in notes.all():
            words = first_words(content)
            for key in (uri, url):
                if key in wanted and key not in labels and words:
                    labels[key] = words
    return {uri: labels.get(uri, "") for uri in wanted}


def _address(title: str) -> bool:
    return title.startswith(("https://", "http://"))


def short_address(uri: str) -> str:
    """An address as a label when nothing better is known: no scheme, at most 60
    characters ("blog.example/2026/zines…")."""
    bare = uri.split("://", 1)[-1].rstrip("/")
    return bare if len(bare) <= 60 else bare[:59] + "…"


async def supporter_count(session: AsyncSession, account_id: int) -> int:
    """The donors of this instance who ever liked one of the creator's things."""
    found = await session.exec(
        select(func.count(distinct(col(Click.donor_id))))
        .join(Thing, col(Thing.id) == Click.thing_id)
        .join(Identity, col(Identity.id) == Thing.identity_id)
        .where(Identity.claimed_account_id == account_id, Click.donor_id != account_id)
    )
    return int(found.one() or 0)


async def creator_month(session: AsyncSession, settings: Settings, account_id: int) -> CreatorMonth:
    period = await open_period_for(session, None)
    rows = await session.exec(
        select(Click.id, Click.donor_id, Thing.uri, Thing.title)
        .join(Thing, col(Thing.id) == Click.thing_id)
        .join(Identity, col(Identity.id) == Thing.identity_id)
        .where(Identity.claimed_account_id == account_id, Click.period == period)
        .order_by(col(Click.id))
    )
    liked = [(int(click or 0), donor, uri, title) for click, donor, uri, title in rows.all()]
    shares = await _shares(session, settings, period, {row[1] for row in liked})
    labels = await thing_labels(session, ((uri, title) for _, _, uri, title in liked))
    by_thing: dict[str, tuple[int, int]] = {}
    for click, _, uri, _ in liked:
        likes, share = by_thing.get(uri, (0, 0))
        by_thing[uri] = (likes + 1, share + shares.get(click, 0))
    things = [
        ThingMonth(uri, labels.get(uri, ""), likes, share)
        for uri, (likes, share) in by_thing.items()
    ]
    things.sort(key=lambda thing: (-thing.likes, -thing.share, thing.uri))
    total = sum(thing.share for thing in things)
    return CreatorMonth(period, total, len(liked), len({row[1] for row in liked}), things)


async def _shares(
    session: AsyncSession, settings: Settings, period: str, donors: set[int]
) -> dict[int, int]:
    """Each click of these donors this period: its share if the month closed now."""
    found: dict[int, int] = {}
    for donor in sorted(donors):
        chosen = await donor_settings(session, settings, donor)
        wallet = await _wallet(session, donor)
        spend = 0 if chosen.paused else max(0, min(chosen.monthly_budget, wallet))
        clicks = await session.exec(
            select(Click.id)
            .where(Click.donor_id == donor, Click.period == period)
            .order_by(col(Click.id))
        )
        ids = [int(click or 0) for click in clicks.all()]
        split = equal_split(spend - fee_of(spend, settings.fee_bps), len(ids))
        found.update(zip(ids, split, strict=True))
    return found


async def _wallet(session: AsyncSession, donor: int) -> int:
    key = Owner(LedgerKind.donor_wallet, account_id=donor).key
    balance = await session.exec(select(LedgerAccount.balance).where(LedgerAccount.key == key))
    return int(balance.first() or 0)
