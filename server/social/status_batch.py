"""What a page of statuses is rendered from, in two queries however long the page: the
actors (authors, authors replied to, those mentioned) with their local accounts, and one
UNION ALL of every number and mark per note, the viewer's own marks, which authors are
payable, and what the viewer's projected share needs (the month's clicks, the wallet, the
budget). Each query is a thread hop on SQLite and a round trip on PostgreSQL; a page cost
eleven of them before.

A list of ids is one parameter (an array on PostgreSQL, a JSON array on SQLite), not one
per id: SQLAlchemy renders an expanding IN anew at every execution, and for a page's two
queries that cost about a fifth of the request."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.donations.periods import period_of
from server.models import (
    Account,
    Actor,
    Bookmark,
    Click,
    DonorSettings,
    Identity,
    LedgerAccount,
    LedgerKind,
    MediaAttachment,
    Note,
    NoteLike,
    NoteMention,
    NoteShare,
    NoteTag,
    Peer,
    PeerState,
    Thing,
)
from server.models.base import utcnow
from server.money.ledger import Owner
from server.money.split import fee_of
from server.settings import Settings
from server.social.media import for_notes
from server.social.page_rows import ACTOR_COLUMNS, as_actor


@dataclass(frozen=True)
class Projector:
    """Whether a like's share reaches an author, and the viewer's share for a like of a
    note if the month closed now: the close splits the budget (less the fee) equally over
    the month's clicks in click order, the first ones taking the remainder's minor units
    (`money.split.equal_split`), as the donor dashboard shows it. A note not liked yet is
    priced as one more click. `positions`: a liked note's URI and its click's place among
    the month's `clicks`."""

    claimed: frozenset[str] = frozenset()
    peers: frozenset[str] = frozenset()
    pot: int | None = None
    positions: dict[str, int] | None = None
    clicks: int = 0

    def payable(self, author: Actor) -> bool:
        if author.is_local:
            return author.account_id is not None
        return author.uri in self.claimed or author.domain.lower() in self.peers

    def share(self, uri: str) -> int | None:
        if self.pot is None or self.positions is None:
            return None
        position = self.positions.get(uri)
        if position is None:
            return self.pot // (self.clicks + 1)
        quotient, rest = divmod(self.pot, self.clicks)
        return quotient + (1 if position < rest else 0)


@dataclass
class StatusBatch:
    actors: dict[int, Actor] = field(default_factory=dict)
    accounts: dict[int, Account] = field(default_factory=dict)
    likes: dict[int, int] = field(default_factory=dict)
    shares: dict[int, int] = field(default_factory=dict)
    replies: dict[int, int] = field(default_factory=dict)
    mentions: dict[int, list[Actor]] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)
    favourited: set[int] = field(default_factory=set)
    reblogged: set[int] = field(default_factory=set)
    bookmarked: set[int] = field(default_factory=set)
    media: dict[int, list[MediaAttachment]] = field(default_factory=dict)
    money: Projector = field(default_factory=Projector)


@dataclass(frozen=True)
class Reader:
    """Who reads, as the batch needs it (server.social.timelines.Viewer's fields)."""

    account_id: int | None
    actor_uri: str


IDS = "ids"
AUTHORS = "authors"
WANTED = "wanted"
ACCOUNT = bindparam("account", type_=Integer)
ACTOR_URI = bindparam("actor_uri", type_=String)
PERIOD = bindparam("period", type_=String)
WALLET = bindparam("wallet", type_=String)
POSTGRESQL = "postgresql"


def in_ids(column: Any, name: str, dialect: str) -> Any:
    """`column IN` the list of ids bound as `name` (see `id_list`), as one parameter."""
    if dialect == POSTGRESQL:
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    values: Any = sa_select(literal_column("value")).select_from(
        func.json_each(bindparam(name, type_=String))
    )
    return column.in_(values.scalar_subquery())


def id_list(ids: Sequence[int], dialect: str) -> Any:
    """The value of an `in_ids` parameter."""
    return list(ids) if dialect == POSTGRESQL else json.dumps(list(ids))


def _part(tag: str, note_id: Any, n: Any, v: Any = None) -> Any:
    return sa_select(
        literal(tag).label("tag"),
        note_id.label("note_id"),
        n.label("n"),
        (cast(null(), String) if v is None else v).label("v"),
    )


def _counted(tag: str, column: Any, dialect: str, *where: Any) -> Any:
    ids = in_ids(column, IDS, dialect)
    return _part(tag, column, func.count()).where(ids, *where).group_by(column)


def _per_note(dialect: str) -> list[Any]:
    """Likes ("l"), shares ("s"), live replies ("r"), attachments ("a") and tags ("t",
    with the tag row's id to keep their order)."""
    return [
        _counted("l", col(NoteLike.note_id), dialect),
        _counted("s", col(NoteShare.note_id), dialect),
        _counted("r", col(Note.in_reply_to_id), dialect, col(Note.deleted_at).is_(None)),
        _counted("a", col(MediaAttachment.note_id), dialect),
        _part("t", col(NoteTag.note_id), col(NoteTag.id), col(NoteTag.name)).where(
            in_ids(col(NoteTag.note_id), IDS, dialect)
        ),
    ]


def _payees(dialect: str) -> list[Any]:
    """Remote authors with a claimed identity ("i") or on an active peer ("p")."""
    one = literal(1)
    remote = (in_ids(col(Actor.id), AUTHORS, dialect), col(Actor.is_local).is_(False))
    claimed = and_(
        col(Identity.network) == "fediverse",
        col(Identity.external_id) == col(Actor.uri),
        col(Identity.claimed_account_id).is_not(None) | (col(Identity.claimed_by_actor_uri) != ""),
    )
    peer = and_(
        col(Peer.domain) == func.lower(col(Actor.domain)), col(Peer.state) == PeerState.active
    )
    return [
        _part("i", col(Actor.id), one).join(Identity, claimed).where(*remote),
        _part("p", col(Actor.id), one).join(Peer, peer).where(*remote),
    ]


def _marks(dialect: str) -> list[Any]:
    """The notes the reader liked ("L"), shared ("S") and bookmarked ("B")."""
    one = literal(1)
    return [
        _part("L", col(NoteLike.note_id), one).where(
            col(NoteLike.actor_uri) == ACTOR_URI, in_ids(col(NoteLike.note_id), IDS, dialect)
        ),
        _part("S", col(NoteShare.note_id), one).where(
            col(NoteShare.actor_uri) == ACTOR_URI, in_ids(col(NoteShare.note_id), IDS, dialect)
        ),
        _part("B", col(Bookmark.note_id), one).where(
            col(Bookmark.account_id) == ACCOUNT, in_ids(col(Bookmark.note_id), IDS, dialect)
        ),
    ]


def _purse(dialect: str) -> list[Any]:
    """The donor's clicks this month ("c"), the place of each of the notes' clicks among
    them ("q"), the wallet's balance ("w") and the donor's settings ("d": paused, budget)."""
    mine = (col(Click.donor_id) == ACCOUNT, col(Click.period) == PERIOD)
    earlier = aliased(Click)
    place = (
        sa_select(func.count())
        .where(
            col(earlier.donor_id) == ACCOUNT,
            col(earlier.period) == PERIOD,
            col(earlier.id) < col(Click.id),
        )
        .scalar_subquery()
    )
    zero = literal(0)
    return [
        _part("c", zero, func.count()).where(*mine),
        _part("q", col(Note.id), place)
        .join(Thing, col(Thing.uri) == col(Note.uri))
        .join(Click, and_(col(Click.thing_id) == col(Thing.id), *mine))
        .where(in_ids(col(Note.id), IDS, dialect)),
        _part("w", zero, col(LedgerAccount.balance)).where(col(LedgerAccount.key) == WALLET),
        _part(
            "d", cast(col(DonorSettings.paused), Integer), col(DonorSettings.monthly_budget)
        ).where(col(DonorSettings.account_id) == ACCOUNT),
    ]


@functools.cache
def _numbers(with_reader: bool, dialect: str) -> Any:
    """The UNION ALL, built once: building it cost more than running it."""
    parts = [*_per_note(dialect), *_payees(dialect)]
    if with_reader:
        parts += [*_marks(dialect), *_purse(dialect)]
    return union_all(*parts)


@functools.cache
def _people(dialect: str) -> Any:
    """The actors of `wanted` and those the notes mention, with their accounts and the
    mentions (note id, mention id: their order)."""
    mention_ids = col(NoteMention.note_id)
    mentioned = select(NoteMention.actor_id).where(in_ids(mention_ids, IDS, dialect))
    return (
        sa_select(*ACTOR_COLUMNS, Account, col(NoteMention.note_id), col(NoteMention.id))
        .outerjoin(Account, col(Account.id) == col(Actor.account_id))
        .outerjoin(
            NoteMention,
            and_(col(NoteMention.actor_id) == col(Actor.id), in_ids(mention_ids, IDS, dialect)),
        )
        .where(or_(in_ids(col(Actor.id), WANTED, dialect), col(Actor.id).in_(mentioned)))
    )


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _actors(
    session: AsyncSession, batch: StatusBatch, wanted: list[int], ids: list[int]
) -> None:
    dialect = dialect_of(session)
    params = {IDS: id_list(ids, dialect), WANTED: id_list(wanted, dialect)}
    rows = await session.exec(_people(dialect), params=params)
    links: list[tuple[int, int, Actor]] = []
    width = len(ACTOR_COLUMNS)
    for row in rows.all():
        actor = as_actor(row)
        account, note_id, mention_id = row[width:]
        batch.actors[int(actor.id or 0)] = actor
        if account is not None and actor.is_local:
            batch.accounts[int(account.id or 0)] = account
        if note_id is not None:
            links.append((int(mention_id or 0), int(note_id), actor))
    for _, note_id, actor in sorted(links, key=lambda link: link[0]):
        batch.mentions.setdefault(note_id, []).append(actor)


def _read(batch: StatusBatch, rows: Sequence[Any]) -> dict[str, Any]:
    """Fills the per-note fields; returns what the projector is made from."""
    counts = {"l": batch.likes, "s": batch.shares, "r": batch.replies}
    flags = {"L": batch.favourited, "S": batch.reblogged, "B": batch.bookmarked}
    found: dict[str, Any] = {"i": set(), "p": set(), "q": {}, "a": [], "t": []}
    for tag, note_id, n, v in rows:
        if tag in counts:
            counts[tag][note_id] = int(n)
        elif tag in flags:
            flags[tag].add(note_id)
        elif tag in ("i", "p"):
            found[tag].add(note_id)
        elif tag == "q":
            found["q"][note_id] = int(n)
        elif tag in ("a", "t"):
            found[tag].append((n, note_id, v))
        else:
            found[tag] = (note_id, n)
    for _, note_id, name in sorted(found["t"]):
        batch.tags.setdefault(note_id, []).append(name)
    return found


def _projector(
    settings: Settings, batch: StatusBatch, notes: Sequence[Note], reader: Reader, found: Any
) -> Projector:
    actors = batch.actors
    claimed = frozenset(actors[i].uri for i in found["i"] if i in actors)
    peers = frozenset(actors[i].domain.lower() for i in found["p"] if i in actors)
    if reader.account_id is None:
        return Projector(claimed, peers)
    paused, budget = found.get("d", (0, settings.budget_default))
    wallet = int(found.get("w", (0, 0))[1])
    spendable = 0 if paused else min(int(budget), wallet)
    pot = spendable - fee_of(spendable, settings.fee_bps)
    uris = {int(note.id or 0): note.uri for note in notes}
    positions = {uris[note_id]: place for note_id, place in found["q"].items()}
    return Projector(claimed, peers, pot, positions, int(found["c"][1]))


async def load_batch(
    session: AsyncSession, settings: Settings, notes: Sequence[Note], reader: Reader
) -> StatusBatch:
    """Everything `notes` are rendered with, for `reader`."""
    batch = StatusBatch()
    ids = [int(note.id or 0) for note in notes]
    if not ids:
        return batch
    authors = sorted({note.author_id for note in notes})
    wanted = sorted({*authors, *(note.in_reply_to_author_id or 0 for note in notes)} - {0})
    await _actors(session, batch, wanted, ids)
    dialect = dialect_of(session)
    params: dict[str, Any] = {IDS: id_list(ids, dialect), AUTHORS: id_list(authors, dialect)}
    if reader.account_id is not None:
        wallet = Owner(LedgerKind.donor_wallet, account_id=reader.account_id).key
        params.update(
            account=reader.account_id,
            actor_uri=reader.actor_uri,
            period=period_of(utcnow()),
            wallet=wallet,
        )
    connection = await session.connection()
    statement = _numbers(reader.account_id is not None, dialect)
    found = _read(batch, (await connection.execute(statement, params)).all())
    if found["a"]:
        batch.media = await for_notes(session, [note_id for _, note_id, _ in found["a"]])
    batch.money = _projector(settings, batch, notes, reader, found)
    return batch
