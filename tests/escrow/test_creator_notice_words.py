"""The creator notice's words, the page it links to, and that public pages never present a
creator who has not joined as collecting money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select
from starlette.applications import Starlette

from server.app import create_app
from server.context import context
from server.db.engine import Database
from server.donations.clicks import CreatorRef, ThingRef
from server.donations.close import close_period
from server.donations.periods import period_of, period_start, previous_period
from server.escrow import notices as creator_notices
from server.escrow.escrow import claim_identity
from server.escrow.notices import (
    WaitingCreator,
    creators_to_tell,
    date_text,
    notice_html,
    notice_paragraphs,
    supporters_text,
)
from server.escrow.opt_outs import addresses_us, says_stop
from server.models import Actor, CreatorNotice, EscrowLine, Identity, NoticeOptOut
from server.models.base import utcnow
from server.models.notices import OptOutVia
from server.money.amounts import format_money
from server.settings import Settings
from tests.support.ledger import donor, like
from tests.support.lifespan import app_lifespan

LAST_MONTH = previous_period(period_of(utcnow()))
BOB = "https://mastodon.example/users/bob"
NEVER_SAID = ("collect", "earn", "income", "owed to you")


def _settings(currency: str = "EUR") -> Settings:
    return Settings(data_dir=Path("/nonexistent"), domain="likewise.example", currency=currency)


def _waiting(amount: int = 1234, supporters: int = 3) -> WaitingCreator:
    return WaitingCreator(BOB, 1, amount, supporters, datetime(2027, 3, 3, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1234, "EUR", "12.34 EUR"),
        (5, "EUR", "0.05 EUR"),
        (500, "JPY", "500 JPY"),
        (1, "BHD", "0.001 BHD"),
    ],
)
def test_amounts_are_written_in_the_currency_s_minor_units(
    amount: int, currency: str, text: str
) -> None:
    assert format_money(amount, _settings(currency)) == text


def test_dates_supporters_and_the_message_s_words() -> None:
    assert date_text(datetime(2027, 3, 3, tzinfo=UTC)) == "3 March 2027"
    assert date_text(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "31 December 2026"
    assert (supporters_text(1), supporters_text(2)) == ("1 supporter", "2 supporters")
    page = "https://likewise.example/waiting/abc"
    first, claim, stop = notice_paragraphs(_settings(), _waiting(), page)
    assert first == (
        "Supporters on likewise.example have set aside 12.34 EUR for you (3 supporters) "
        "because they liked your posts. The first of it returns to them on 3 March 2027 "
        "unless you claim it."
    )
    assert claim == f"How to claim it: {page}"
    assert stop == 'To stop these messages, reply "stop" or block this account.'
    one = notice_paragraphs(_settings(), _waiting(supporters=1), page)[0]
    assert "(1 supporter)" in one
    for words in (first, claim, stop):
        assert not any(never in words.lower() for never in NEVER_SAID)


def test_the_html_mentions_the_creator_and_escapes_what_the_remote_chose() -> None:
    actor = Actor(uri=BOB, username='bob"><script>', domain="mastodon.example", url=BOB)
    page = "https://likewise.example/waiting/abc"
    text = notice_html(actor, notice_paragraphs(_settings(), _waiting(), page), page)
    assert text.startswith(
        f'<p><span class="h-card" translate="no"><a href="{BOB}" class="u-url mention">@<span>'
        "bob&quot;&gt;&lt;script&gt;</span></a></span> Supporters on likewise.example"
    )
    assert f'<a href="{page}">{page}</a>' in text
    assert "<script>" not in text and text.count("<p>") == 3


@pytest.mark.parametrize(
    ("content", "stop"),
    [
        ("<p>stop</p>", True),
        ("<p>Please STOP sending these.</p>", True),
        ("<p>unsubscribe</p>", True),
        ("<p>opt out</p><p>thanks</p>", True),
        ("<p>Thanks!</p><p>Opt-out?</p>", True),
        ("<p>thanks, how do I claim?</p>", False),
        ("<p>unstoppable</p>", False),
        # Our own handle in the mention says nothing, even when it has the word in it
        (
            '<p><span class="h-card"><a href="https://stop.example/actor" class="u-url mention">'
            "@<span>stop.example</span></a></span> thank you</p>",
            False,
        ),
        ("<p>@stop@stop.example great</p>", False),
    ],
)
def test_which_replies_say_stop(content: str, stop: bool) -> None:
    assert says_stop(content) is stop


def test_which_notes_address_the_instance_actor() -> None:
    settings = _settings()
    ours = "http://likewise.example/actor"
    notice = "http://likewise.example/notices/creators/abc"
    assert addresses_us(settings, {"inReplyTo": notice})
    assert addresses_us(settings, {"to": [ours]})
    assert addresses_us(settings, {"cc": ours})
    assert addresses_us(settings, {"tag": [{"type": "Mention", "href": ours}]})
    assert addresses_us(settings, {"tag": {"type": "Mention", "href": ours}})
    assert not addresses_us(settings, {"inReplyTo": "http://other.example/notices/creators/a"})
    assert not addresses_us(settings, {"to": ["http://likewise.example/users/carol"]})
    assert not addresses_us(settings, {"tag": [{"type": "Hashtag", "href": ours}]})


# --- the page -------------------------------------------------------------------------


async def _notice(app: Starlette, token: str = "tok-1") -> CreatorNotice:
    """Two donors liked bob's post last month; the month is closed; a notice was sent."""
    db, settings = context(app).db, context(app).settings
    creator = CreatorRef("fediverse", BOB, "@bob@mastodon.example", "https://mastodon.example/@bob")
    for name in ("ann", "cid"):
        who = await donor(db, settings, name, funds=2000, budget=300)
        at = period_start(LAST_MONTH) + timedelta(days=1)
        await like(db, settings, who, ThingRef(f"{BOB}/statuses/1", creator), at=at)
    await close_period(db, settings, LAST_MONTH)
    async with db.transaction() as session:
        bob = (await session.exec(select(Identity.id).where(Identity.external_id == BOB))).one()
        notice = CreatorNotice(
            creator_uri=BOB,
            month=period_of(utcnow()),
            identity_id=bob or 0,
            token=token,
            amount=600,
        )
        session.add(notice)
    return notice


async def test_the_page_says_what_is_set_aside_until_when_and_how_to_claim_or_stop(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _notice(app)
    async with context(app).db.session() as session:
        line = (await session.exec(select(EscrowLine))).first()
    assert line is not None
    page = await client.get("/waiting/tok-1")
    assert page.status_code == 200
    assert page.headers["x-robots-tag"] == "noindex"
    text = " ".join(page.text.split())
    assert 'Set aside for <a href="https://mastodon.example/@bob">@bob@mastodon.example</a>' in text
    assert 'have set aside <strong class="amount">6.00 EUR</strong>' in text
    assert '<span class="supporters">2 supporters</span>' in text
    returns = line.created_at + timedelta(days=context(app).settings.escrow_days)
    assert (
        "The first of it returns to the supporters on "
        f'<strong class="returns">{date_text(returns)}</strong> unless @bob@mastodon.example'
    ) in text
    assert 'href="/signup"' in text and 'href="/money/creator"' in text
    assert 'reply "stop" to the message, or block @likewise.test@likewise.test' in text
    assert not any(never in text.lower() for never in NEVER_SAID)


async def test_the_page_once_nothing_waits_and_once_opted_out(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _notice(app)
    async with context(app).db.transaction() as session:
        await session.exec(update(EscrowLine).values(state="returned", resolved_at=utcnow()))
        session.add(NoticeOptOut(actor_uri=BOB, via=OptOutVia.block.value))
    text = " ".join((await client.get("/waiting/tok-1")).text.split())
    assert "Nothing is set aside for @bob@mastodon.example any more" in text
    assert "EUR" not in text
    assert "You asked for no more messages from likewise.test: none will be sent." in text


async def test_the_page_without_open_sign_up(settings: Settings) -> None:
    closed = create_app(settings.replace(registrations=False))
    async with app_lifespan(closed):
        await _notice(closed)
        transport = httpx.ASGITransport(app=closed)
        async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as http:
            text = " ".join((await http.get("/waiting/tok-1")).text.split())
    assert "Ask the admin of likewise.test for an account (sign-up is closed here)" in text
    assert 'href="/signup"' not in text.split("<main ")[1]


async def test_the_button_page_never_says_a_creator_collects(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    text = " ".join(
        (await client.get("/button", params={"url": "https://blog.example/a"})).text.split()
    )
    assert "supporters set the money aside, and it returns to them if it is never claimed" in text
    assert not any(never in text.lower() for never in NEVER_SAID)


async def test_many_waiting_creators_are_found_as_a_few_are(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 1.00 EUR closed into escrow for each of 60 fediverse creators (more than are
    # looked up one by one), one of whom a local account has claimed since
    ann = await donor(db, settings, "ann", funds=10_000, budget=6_000)
    cat = await donor(db, settings, "cat")
    at = period_start(LAST_MONTH) + timedelta(days=1)
    actors = [f"https://social{n % 3}.example/users/c{n:02}" for n in range(60)]
    for actor in actors:
        await like(
            db,
            settings,
            ann,
            ThingRef(f"{actor}/statuses/1", CreatorRef("fediverse", actor)),
            at=at,
        )
    await close_period(db, settings, LAST_MONTH)
    async with db.transaction() as session:
        claimed = await session.exec(select(Identity.id).where(Identity.external_id == actors[7]))
        await claim_identity(session, settings, claimed.one() or 0, cat, verified=True)
    # When the creators to tell are looked up with every identity read, and by id
    month = period_of(utcnow())
    async with db.session() as session:
        read_all = await creators_to_tell(session, settings, month)
        monkeypatch.setattr(creator_notices, "FEW_IDENTITIES", 1000)
        by_id = await creators_to_tell(session, settings, month)
    # Then both find every unclaimed creator, in URI order, with their 1.00 EUR
    assert read_all == by_id
    assert [waiting.creator_uri for waiting in read_all] == sorted(set(actors) - {actors[7]})
    assert {(waiting.amount, waiting.supporters) for waiting in read_all} == {(100, 1)}
