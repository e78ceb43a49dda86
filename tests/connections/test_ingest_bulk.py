"""A page of bridged likes ingested in bulk (server/connections/ingest.py's `ingest_page`):
each like becomes what the like-by-like ingest it replaced made of it, in a handful of
statements a page, and two polls of one page at once still count each like once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bridges.base import Creator, Like
from server.connections.ingest import (
    SCHEMES,
    PageReport,
    in_open_period,
    ingest_page,
    judge_like,
)
from server.db.engine import Database
from server.db.upsert import insert_ignoring_duplicates
from server.donations.clicks import CreatorRef, ThingRef, record_click
from server.donations.periods import ensure_period, period_of, period_start
from server.models import (
    Account,
    Actor,
    BridgeLike,
    BridgeLikeOutcome,
    Click,
    ConnectedAccount,
    DonorSettings,
    Note,
    Period,
    Thing,
)
from server.models.clicks import PeriodStage
from server.settings import Settings
from server.text_checks import CONTROL

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
PREVIOUS = datetime(2026, 10, 20, 9, tzinfo=UTC)  # the month before, open or closing
OLD = datetime(2026, 9, 5, tzinfo=UTC)  # two months before: never counted
ME = "https://remote0.example/users/me"  # the donor's own account elsewhere, connected
LOCAL_NOTE = "https://likewise.test/notes/carol-1"
ANN = Creator("fediverse", "https://remote1.example/users/ann", "@ann@remote1.example")
SKY = Creator("bluesky", "did:plc:sky", "sky.test", "https://bsky.app/profile/sky.test")
# Bridgy Fed's actor for the Bluesky account: the same creator, one identity.
BRIDGED = Creator("fediverse", "https://bsky.brid.gy/ap/did:plc:sky", "@sky.test@bsky.brid.gy")
ITEMS: dict[str, tuple[str, Creator]] = {
    "a": ("https://remote1.example/notes/a", ANN),
    "b": ("https://remote1.example/notes/b", ANN),
    "twin": ("https://remote1.example/notes/a", ANN),  # another id of a's post
    "own": ("https://remote0.example/notes/own", Creator("fediverse", ME, "@me@remote0.example")),
    "sky": ("at://did:plc:sky/app.bsky.feed.post/1", SKY),
    "bridged": ("https://bsky.brid.gy/r/at://did:plc:sky/app.bsky.feed.post/2", BRIDGED),
    # The author on another server than the item: unusable.
    "stranger": ("https://remote1.example/notes/s", Creator("fediverse", "https://x.example/u")),
    # Our own note: its author is the one we know, whatever the other server says.
    "local": (LOCAL_NOTE, Creator("fediverse", "https://evil.example/users/mallory")),
    "gone": ("https://likewise.test/notes/missing", ANN),  # a note we do not hold
    "": ("https://remote1.example/notes/blank", ANN),  # no item id: skipped
}
WHEN = (None, NOW - timedelta(hours=1), NOW + timedelta(days=1), PREVIOUS, OLD)
names = itertools.count()


def like(item: str, when: datetime | None = NOW, like_id: str = "") -> Like:
    url, creator = ITEMS[item]
    return Like(like_id or f"like-{item}", item, url, creator, f"title {item}", when)


# --- the reference: the like-by-like ingest the bulk one replaced ------------------------


def _text(value: str, limit: int) -> str:
    return CONTROL.sub("", value)[:limit]


async def _claim(
    session: AsyncSession, connection: ConnectedAccount, one: Like, now: datetime
) -> BridgeLike | None:
    values = {
        "connected_account_id": connection.id,
        "account_id": connection.account_id,
        "network": connection.network,
        "item_id": one.item_id,
        "like_id": _text(one.like_id, 2048),
        "item_url": one.item_url if one.item_url.startswith(SCHEMES) else "",
        "title": _text(one.title, 300),
        "creator_handle": _text(one.creator.handle, 255),
        "liked_at": one.liked_at,
        "first_seen_at": now,
        "last_seen_at": now,
        "period": "",
        "outcome": BridgeLikeOutcome.refused.value,
    }
    inserted = await session.exec(insert_ignoring_duplicates(session, BridgeLike).values(**values))
    if inserted.rowcount != 1:
        return None
    query = select(BridgeLike).where(
        BridgeLike.account_id == connection.account_id,
        BridgeLike.network == connection.network,
        BridgeLike.item_id == one.item_id,
    )
    return (await session.exec(query)).one()


async def like_by_like(
    session: AsyncSession,
    settings: Settings,
    connection: ConnectedAccount,
    likes: Sequence[Like],
    *,
    now: datetime,
    baseline: bool,
) -> PageReport:
    ids = list({one.item_id for one in likes if one.item_id})
    query = select(BridgeLike).where(
        BridgeLike.account_id == connection.account_id,
        BridgeLike.network == connection.network,
        col(BridgeLike.item_id).in_(ids),
    )
    seen = {row.item_id: row for row in (await session.exec(query)).all()}
    start = period_start(period_of(now))
    new = counted = 0
    older = bool(likes)
    for one in likes:
        if not one.item_id or len(one.item_id) > 2048:
            continue
        row = seen.get(one.item_id)
        if one.liked_at is not None:
            older = older and one.liked_at < start
        else:
            older = older and row is not None and row.first_seen_at < start
        if row is not None:
            row.last_seen_at = now
            session.add(row)
            if row.outcome != BridgeLikeOutcome.unclicked:
                continue
            row.like_id = _text(one.like_id, 2048)
        else:
            row = await _claim(session, connection, one, now)
            if row is None:
                continue
            seen[one.item_id] = row
            new += 1
        at = min(one.liked_at or now, now)
        if (baseline and one.liked_at is None) or not await in_open_period(session, at, now):
            row.outcome, row.click_id, row.thing_id, row.period = (
                BridgeLikeOutcome.before_period,
                None,
                None,
                "",
            )
        else:
            source = f"bridge:{connection.network}"
            judged = await judge_like(session, settings, connection.account_id, source, one, at)
            row.outcome, row.click_id = judged.outcome, judged.click_id
            row.thing_id, row.period = judged.thing_id, judged.period
        session.add(row)
        counted += row.outcome == BridgeLikeOutcome.counted
    await session.flush()
    return PageReport(new=new, counted=counted, older_reached=older)


# --- the world a page is ingested in ------------------------------------------------------

Ingest = Callable[..., Awaitable[PageReport]]


async def make_donor(db: Database, *, paused: bool = False) -> ConnectedAccount:
    """A donor (no local actor) whose Mastodon account elsewhere is ME, connected."""
    name = f"d{next(names)}"
    async with db.transaction() as session:
        account = Account(username=name, email=f"{name}@example.org", password_hash="x")
        session.add(account)
        await session.flush()
        donor_id = account.id or 0
        if paused:
            session.add(DonorSettings(account_id=donor_id, monthly_budget=1000, paused=True))
        connection = ConnectedAccount(account_id=donor_id, network="fediverse", external_id=ME)
        session.add(connection)
    return connection


async def carol_note(db: Database, settings: Settings) -> None:
    """LOCAL_NOTE, by carol, one of our accounts."""
    async with db.transaction() as session:
        if (await session.exec(select(Note).where(Note.uri == LOCAL_NOTE))).first():
            return
        carol = Account(username="carol", email="carol@example.org", password_hash="x")
        session.add(carol)
        await session.flush()
        actor = Actor(
            uri=f"{settings.base_url}/users/carol",
            account_id=carol.id,
            is_local=True,
            username="carol",
            domain=settings.domain,
            url=f"{settings.base_url}/@carol",
        )
        session.add(actor)
        await session.flush()
        session.add(Note(uri=LOCAL_NOTE, url=LOCAL_NOTE, author_id=actor.id or 0, is_local=True))


async def set_previous_month(db: Database, open_: bool) -> None:
    month = period_of(PREVIOUS)
    async with db.transaction() as session:
        await ensure_period(session, month)
        stage = PeriodStage.open if open_ else PeriodStage.closing
        closing_at = None if open_ else NOW
        await session.exec(
            update(Period).where(col(Period.id) == month).values(stage=stage, closing_at=closing_at)
        )


async def click_by_another_road(db: Database, settings: Settings, donor_id: int, item: str) -> None:
    """The donor's click on the item's post this month, as the inbox would make it."""
    url, creator = ITEMS[item]
    thing = ThingRef(url, CreatorRef(creator.network, creator.external_id, creator.handle))
    async with db.transaction() as session:
        await record_click(
            session,
            settings,
            donor_account_id=donor_id,
            thing=thing,
            source="activitypub",
            source_ref=f"inbox-{item}",
            at=NOW,
        )


async def ingest(
    db: Database,
    settings: Settings,
    connection: ConnectedAccount,
    page: Sequence[Like],
    *,
    baseline: bool = False,
    using: Ingest = ingest_page,
) -> PageReport:
    async with db.transaction() as session:
        row = await session.get(ConnectedAccount, connection.id)
        assert row is not None
        return await using(session, settings, row, page, now=NOW, baseline=baseline)


async def take_back(db: Database, donor_id: int, items: Sequence[str]) -> None:
    """What the sweep does to a counted like the network no longer shows."""
    async with db.transaction() as session:
        rows = await session.exec(
            select(BridgeLike).where(
                BridgeLike.account_id == donor_id,
                col(BridgeLike.item_id).in_(items),
                BridgeLike.outcome == BridgeLikeOutcome.counted,
            )
        )
        for row in rows.all():
            await session.exec(delete(Click).where(col(Click.id) == row.click_id))
            row.outcome = BridgeLikeOutcome.unclicked
            session.add(row)


@dataclass(frozen=True)
class Picture:
    """A donor's rows and clicks, named by what they are rather than by ids."""

    likes: list[tuple[Any, ...]]
    clicks: list[tuple[Any, ...]]


async def picture(db: Database, donor_id: int) -> Picture:
    async with db.session() as session:
        clicks = (
            await session.exec(
                select(Click, Thing.uri)
                .join(Thing, col(Thing.id) == Click.thing_id)
                .where(Click.donor_id == donor_id)
                .order_by(col(Click.id))
            )
        ).all()
        named = {click.id: (uri, click.period, click.source) for click, uri in clicks}
        rows = (
            await session.exec(
                select(BridgeLike)
                .where(BridgeLike.account_id == donor_id)
                .order_by(col(BridgeLike.id))
            )
        ).all()
        things = dict((await session.exec(select(Thing.id, Thing.uri))).all())
    return Picture(
        likes=[
            (
                row.item_id,
                row.like_id,
                row.outcome,
                row.period,
                named.get(row.click_id) if row.click_id is not None else None,
                things.get(row.thing_id) if row.thing_id is not None else None,
            )
            for row in rows
        ],
        clicks=[(uri, c.period, c.source, c.source_ref) for c, uri in clicks],
    )


def bridge_clicks(seen: Picture) -> set[tuple[str, str]]:
    return {(uri, period) for uri, period, source, _ in seen.clicks if source.startswith("bridge")}


# --- the cases ------------------------------------------------------------------------------


async def test_a_page_of_new_likes_is_a_click_each_in_a_few_statements(
    db: Database, settings: Settings
) -> None:
    # Given the month's period and the author's identity made by another donor's page
    await ingest(db, settings, await make_donor(db), [like("a")])
    connection = await make_donor(db)
    page = [
        Like(f"l{n}", f"i{n}", f"https://remote1.example/notes/{n}", ANN, "", NOW)
        for n in range(40)
    ]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        report = await ingest(db, settings, connection, page)
        first = len(statements)
        again = await ingest(db, settings, connection, page)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert report == PageReport(new=40, counted=40, older_reached=False)
    assert again == PageReport(new=0, counted=0, older_reached=False)
    seen = await picture(db, connection.account_id)
    assert [like[0] for like in seen.likes] == [f"i{n}" for n in range(40)]  # the page's order
    assert [click[3] for click in seen.clicks] == [f"l{n}" for n in range(40)]
    # A page costs a statement a step, not a like (with the test's BEGIN and account read)
    assert first <= 10, statements[:first]
    assert len(statements) - first <= 3, statements[first:]


async def test_a_page_repeating_an_item_or_a_post_counts_it_once(
    db: Database, settings: Settings
) -> None:
    connection = await make_donor(db)
    page = [like("a", like_id="first"), like("a", like_id="again"), like("twin"), like("b")]
    report = await ingest(db, settings, connection, page)
    assert report == PageReport(new=3, counted=2, older_reached=False)
    seen = await picture(db, connection.account_id)
    a, b = ITEMS["a"][0], ITEMS["b"][0]
    assert [like[:4] for like in seen.likes] == [
        ("a", "first", BridgeLikeOutcome.counted, "2026-11"),
        ("twin", "like-twin", BridgeLikeOutcome.already_counted, "2026-11"),
        ("b", "like-b", BridgeLikeOutcome.counted, "2026-11"),
    ]
    # The twin names the click its post already has
    assert seen.likes[1][4] == (a, "2026-11", "bridge:fediverse")
    assert seen.clicks == [
        (a, "2026-11", "bridge:fediverse", "first"),
        (b, "2026-11", "bridge:fediverse", "like-b"),
    ]


async def test_a_like_clicked_by_another_road_is_already_counted(
    db: Database, settings: Settings
) -> None:
    connection = await make_donor(db)
    await click_by_another_road(db, settings, connection.account_id, "a")
    report = await ingest(db, settings, connection, [like("a"), like("b")])
    assert report.counted == 1
    seen = await picture(db, connection.account_id)
    assert [(like[0], like[2], like[4]) for like in seen.likes] == [
        ("a", BridgeLikeOutcome.already_counted, (ITEMS["a"][0], "2026-11", "activitypub")),
        ("b", BridgeLikeOutcome.counted, (ITEMS["b"][0], "2026-11", "bridge:fediverse")),
    ]
    assert len(seen.clicks) == 2


async def test_self_likes_make_no_click(db: Database, settings: Settings) -> None:
    # Given a donor with a local actor, who posted a note here
    connection = await make_donor(db)
    async with db.transaction() as session:
        account = await session.get(Account, connection.account_id)
        assert account is not None
        actor = Actor(
            uri=f"{settings.base_url}/users/{account.username}",
            account_id=account.id,
            is_local=True,
            username=account.username,
            domain=settings.domain,
        )
        session.add(actor)
        await session.flush()
        own_note = f"{settings.base_url}/notes/mine"
        session.add(Note(uri=own_note, url=own_note, author_id=actor.id or 0, is_local=True))
    mine = Like("l-mine", "mine", own_note, ANN, "", NOW)
    # When the page has a post of the donor's account elsewhere, and the donor's own note
    report = await ingest(db, settings, connection, [like("own"), mine, like("b")])
    # Then neither is a click
    assert report.counted == 1
    seen = await picture(db, connection.account_id)
    assert [(like[0], like[2]) for like in seen.likes] == [
        ("own", BridgeLikeOutcome.self_like),
        ("mine", BridgeLikeOutcome.self_like),
        ("b", BridgeLikeOutcome.counted),
    ]
    assert [click[0] for click in seen.clicks] == [ITEMS["b"][0]]


async def test_likes_before_the_open_period_are_shown_not_charged(
    db: Database, settings: Settings
) -> None:
    connection = await make_donor(db)
    await set_previous_month(db, open_=False)
    page = [like("a", PREVIOUS), like("b", OLD), like("sky", None)]
    report = await ingest(db, settings, connection, page, baseline=True)
    assert report == PageReport(new=3, counted=0, older_reached=False)
    seen = await picture(db, connection.account_id)
    assert {like[2] for like in seen.likes} == {BridgeLikeOutcome.before_period}
    assert seen.clicks == []
    # The month before, still open, counts in its own period
    other = await make_donor(db)
    await set_previous_month(db, open_=True)
    assert (await ingest(db, settings, other, [like("a", PREVIOUS)])).counted == 1
    assert (await picture(db, other.account_id)).clicks[0][1] == "2026-10"
    # A page whose likes are all from before the month says the round may stop
    assert (await ingest(db, settings, other, [like("b", OLD)])).older_reached


async def test_a_paused_donor_makes_no_click_and_no_thing(db: Database, settings: Settings) -> None:
    connection = await make_donor(db, paused=True)
    report = await ingest(db, settings, connection, [like("a"), like("own"), like("stranger")])
    assert report == PageReport(new=3, counted=0, older_reached=False)
    seen = await picture(db, connection.account_id)
    assert [(like[0], like[2]) for like in seen.likes] == [
        ("a", BridgeLikeOutcome.paused),
        ("own", BridgeLikeOutcome.self_like),
        ("stranger", BridgeLikeOutcome.refused),
    ]
    async with db.session() as session:
        assert (await session.exec(select(Thing))).all() == []


async def test_two_polls_of_one_page_at_once_count_each_like_once(
    db: Database, settings: Settings
) -> None:
    connection = await make_donor(db)
    page = [like(item) for item in ("a", "b", "twin", "sky", "bridged")]
    other = Database(settings.database_url)
    try:
        reports = await asyncio.gather(
            ingest(db, settings, connection, page), ingest(other, settings, connection, page)
        )
    finally:
        await other.dispose()
    assert sorted(report.new for report in reports) == [0, 5]
    assert sum(report.counted for report in reports) == 4
    seen = await picture(db, connection.account_id)
    assert len(seen.likes) == 5
    assert sorted(click[0] for click in seen.clicks) == sorted(
        {ITEMS[item][0] for item in ("a", "b", "sky", "bridged")}
    )


# --- any page: as the like-by-like ingest decided, and each usable like counted once -------


@dataclass(frozen=True)
class Scenario:
    pages: list[list[tuple[str, datetime | None, int]]]
    paused: bool = False
    previous_open: bool = True
    clicked_before: frozenset[str] = frozenset()
    baseline: bool = False
    taken_back: list[str] = field(default_factory=list)


def as_likes(page: list[tuple[str, datetime | None, int]]) -> list[Like]:
    return [like(item, when, f"like-{item}-{n}") for item, when, n in page]


pages = st.lists(
    st.tuples(st.sampled_from(sorted(ITEMS)), st.sampled_from(WHEN), st.integers(0, 3)),
    max_size=10,
)
scenarios = st.builds(
    Scenario,
    pages=st.lists(pages, min_size=1, max_size=2),
    paused=st.booleans(),
    previous_open=st.booleans(),
    clicked_before=st.frozensets(st.sampled_from(["a", "b", "sky"])),
    baseline=st.booleans(),
    taken_back=st.lists(st.sampled_from(["a", "b", "sky", "local"]), max_size=2),
)


def counted_once(scenario: Scenario) -> set[tuple[str, str]]:
    """The (thing, period) clicks the first page must make: its usable, not own likes in
    the open period, less those clicked by another road."""
    if scenario.paused:
        return set()
    usable = {"a": "a", "b": "b", "twin": "a", "sky": "sky", "bridged": "bridged"}
    usable["local"] = "local"
    wanted: set[tuple[str, str]] = set()
    items: set[str] = set()  # the first like of an item id is the one judged
    for item, when, _ in scenario.pages[0]:
        if item in items or item not in usable:
            continue
        items.add(item)
        if (when is None and scenario.baseline) or when == OLD:
            continue
        if when == PREVIOUS and not scenario.previous_open:
            continue
        month = period_of(min(when or NOW, NOW))
        wanted.add((ITEMS[usable[item]][0], month))
    return wanted - {(ITEMS[item][0], "2026-11") for item in scenario.clicked_before}


async def compare(settings: Settings, scenario: Scenario) -> None:
    db = Database(settings.database_url)
    try:
        await carol_note(db, settings)
        await set_previous_month(db, scenario.previous_open)
        bulk = await make_donor(db, paused=scenario.paused)
        reference = await make_donor(db, paused=scenario.paused)
        for donor in (bulk, reference):
            for item in sorted(scenario.clicked_before):
                await click_by_another_road(db, settings, donor.account_id, item)
        reports: dict[int, list[PageReport]] = {bulk.account_id: [], reference.account_id: []}
        for number, page in enumerate(scenario.pages):
            for donor, using in ((bulk, ingest_page), (reference, like_by_like)):
                if number:
                    await take_back(db, donor.account_id, scenario.taken_back)
                report = await ingest(
                    db, settings, donor, as_likes(page), baseline=scenario.baseline, using=using
                )
                reports[donor.account_id].append(report)
                if number == 0:
                    first = bridge_clicks(await picture(db, donor.account_id))
                    assert first == counted_once(scenario)
        assert reports[bulk.account_id] == reports[reference.account_id]
        assert await picture(db, bulk.account_id) == await picture(db, reference.account_id)
    finally:
        await db.dispose()


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios)
def test_any_page_is_decided_as_like_by_like_and_counts_each_usable_like_once(
    settings: Settings, scenario: Scenario
) -> None:
    asyncio.run(compare(settings, scenario))
