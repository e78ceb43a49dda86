"""Rounds: how a network module reads a donor's likes newest first, a page at a time, and
stops at what the previous round saw.

A list of likes that offers no "since" parameter is read from the top down. The first page
of a round is the newest; the round remembers what it met first (its head) and goes on down
until it meets what the previous round remembered (its stop), the end of the list, or its
network's page bound. Every page answers two cursors: the next page of this round (None when
the round is over) and the cursor the next round starts from (`resume_cursor`: stop at this
round's head), so that a round cut short by a wait is resumed, not repeated. Cursors are
query strings we write; they come back from the database and are parsed strictly (every key
known, each once, every value checked): anything else is `BadPayload`, never a crash.

Two shapes of list:
- Token-paged lists (YouTube, X, Tumblr): `Position`, `parse_position`, `round_page`. The
  cursor is `page=<token>&head=<ids>&head_at=<t>&pages=<n>&stop=<ids>&stop_at=<t>` (only the
  keys that have a value). `stop` holds up to `STOP_IDS` ids of the previous round's newest
  likes (several, so that unliking one does not send a round back through every page), and
  `stop_at` its newest like time in Unix seconds where the network gives times (a like older
  than it ends the round too). `head`, `head_at` are this round's own, set on its first page
  and kept by later ones. The next round's cursor is `stop=<head>&stop_at=<head_at>`.
- Page-numbered lists (GitHub, Vimeo, Dailymotion): `PageCursor`, `PagePosition`,
  `page_round`. None is page 1 of a first round; `since=<id>[&at=<t>]` a later round, read
  down to that like (or to any like older than `at`, should that one have been taken back);
  `page=<n>&top=<id>[&topat=<t>]&last=<id>[&lastat=<t>][&since=…[&at=…]]` the next page of a
  round: `top` is its newest like (the resume point), `last` the last like read. Likes added
  meanwhile shift the pages, which then repeat likes already read: those (and, where the
  network gives like times, likes given after `lastat`, left to the next round) are dropped,
  so a wait mid-round neither loses nor repeats a like. Each network says which ids it
  takes, whether its cursors carry times (never, where it gives them, always) and its last
  page. Every page's `resume_cursor` is `since=<top>[&at=<topat>]`. Page numbers also shift
  when likes are removed during a round: an older like can then move onto a page already
  read and be missed (the known gap of page-numbered lists).

The small readers the network modules share sit here too: ids and numbers (`check`,
`number`), times (`parse_time`), a page's likes each once (`each_once`), titles
(`plain_title`, `one_line`) and a token past its time (`refuse_expired`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qs, urlencode

from bridges.base import Credentials, Like, LikesPage, RateInfo
from bridges.errors import BadPayload, TokenExpired
from bridges.http import Fetched
from bridges.oauth2 import EXPIRY_MARGIN

STOP_IDS = 5  # how many of a round's newest likes the next round stops at
TITLE_LENGTH = 120
PAGE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,512}")
NUMBER_RE = re.compile(r"[0-9]{1,20}")


# --- what the network modules share ---------------------------------------------------------


def check(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadPayload(f"{what}: not an id we accept: {str(value)[:80]!r}")
    return value


def number(value: object, what: str, refusal: str = "not a number") -> str:
    """A number (an id, a time) from a JSON number or up to 20 digits, as a string;
    anything else is a bad payload (`refusal` says what it is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadPayload(f"{what}: {refusal}: {str(value)[:80]!r}")
    text = str(value)
    if not NUMBER_RE.fullmatch(text):
        raise BadPayload(f"{what}: {refusal}: {text[:80]!r}")
    return text


def plain_title(value: object, length: int = TITLE_LENGTH) -> str:
    """A short plain-text title from text that is plain already: control characters left
    out, spaces folded, cut to `length`."""
    if not isinstance(value, str):
        return ""
    text = " ".join("".join(c for c in value if c.isprintable() or c.isspace()).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def one_line(text: str, length: int = TITLE_LENGTH) -> str:
    """A name or title as one line of plain text (control characters become spaces),
    cut to `length`."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return cleaned if len(cleaned) <= length else cleaned[: length - 1].rstrip() + "…"


def parse_time(value: object, what: str) -> datetime:
    """An ISO 8601 time with a zone (`2026-11-02T08:14:27Z`, `…+00:00`), in UTC."""
    if not isinstance(value, str) or len(value) > 40:
        raise BadPayload(f"{what}: not a time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadPayload(f"{what}: not a time: {value[:40]!r}") from error
    if moment.tzinfo is None:
        raise BadPayload(f"{what}: a time without a zone")
    return moment.astimezone(UTC)


def each_once(
    items: list[object], parse: Callable[[object, str], Like], where: str, noun: str
) -> list[Like]:
    """A page's items as likes, in order (`parse(item, "<where> item <n>")`); an item
    listed twice is a bad payload."""
    likes: list[Like] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        like = parse(item, f"{where} item {index}")
        if like.like_id in seen:
            raise BadPayload(f"{where}: {noun} {like.like_id} listed twice")
        seen.add(like.like_id)
        likes.append(like)
    return likes


def refuse_expired(credentials: Credentials, label: str) -> None:
    """TokenExpired for a token past its time, before anything is spent on a request that
    `OAuth2Network.api_get` would not send."""
    expires_at = credentials.expires_at
    if expires_at is not None and datetime.now(UTC) >= expires_at - EXPIRY_MARGIN:
        raise TokenExpired(f"the {label} token expired at {expires_at:%Y-%m-%d %H:%M}")


def _seconds(value: str, what: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise BadPayload(f"{what}: not a time in seconds: {value[:40]!r}")
    return int(value)


def _timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


# --- token-paged rounds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a token-paged round is (see the module doc): the next page's token ("" for the
    top), what the previous round saw (`stop`, `stop_at`), this round's newest likes
    (`head`, `head_at`) and the pages read."""

    page: str = ""
    stop: tuple[str, ...] = ()
    stop_at: int | None = None
    head: tuple[str, ...] = ()
    head_at: int | None = None
    pages: int = 0

    def encode(self) -> str:
        fields: dict[str, str] = {}
        if self.page:
            fields["page"] = self.page
        for name, ids, at in (
            ("stop", self.stop, self.stop_at),
            ("head", self.head, self.head_at),
        ):
            if ids:
                fields[name] = ",".join(ids)
            if at is not None:
                fields[f"{name}_at"] = str(at)
        if self.pages:
            fields["pages"] = str(self.pages)
        return urlencode(fields)

    def resume(self) -> str | None:
        """The cursor of the next round: stop at this round's newest likes."""
        if not self.head and self.head_at is None:
            return None
        return Position(stop=self.head, stop_at=self.head_at).encode()


def parse_position(cursor: str | None, id_pattern: re.Pattern[str], network: str) -> Position:
    """A stored cursor, every key checked (BadPayload for anything we did not write)."""
    if cursor is None:
        return Position()
    try:
        query = parse_qs(cursor, strict_parsing=True)
    except ValueError as error:
        raise BadPayload(f"not a {network} cursor: {cursor[:80]!r}") from error
    known = {"page", "stop", "stop_at", "head", "head_at", "pages"}
    if set(query) - known or any(len(values) != 1 for values in query.values()):
        raise BadPayload(f"not a {network} cursor: {cursor[:80]!r}")
    fields = {name: values[0] for name, values in query.items()}
    ids = {
        name: tuple(check(id_pattern, part, f"cursor {name}") for part in value.split(","))
        for name, value in fields.items()
        if name in ("stop", "head")
    }
    if any(len(value) > STOP_IDS for value in ids.values()):
        raise BadPayload(f"not a {network} cursor: {cursor[:80]!r}")
    times = {
        name: _seconds(value, f"cursor {name}")
        for name, value in fields.items()
        if name in ("stop_at", "head_at")
    }
    page = fields.get("page", "")
    if page:
        check(PAGE_TOKEN_RE, page, "cursor page")
    pages = fields.get("pages", "0")
    if not pages.isascii() or not pages.isdigit() or len(pages) > 4:
        raise BadPayload(f"not a {network} cursor: {cursor[:80]!r}")
    return Position(
        page,
        ids.get("stop", ()),
        times.get("stop_at"),
        ids.get("head", ()),
        times.get("head_at"),
        int(pages),
    )


@dataclass(frozen=True)
class Seen:
    """One like of a page with what a round needs to know of it."""

    like: Like
    key: str  # what `stop` remembers (the item id)
    at: int | None  # the like time in Unix seconds, where the network gives one


def round_page(
    position: Position,
    seen: list[Seen],
    next_page: str | None,
    fetched: Fetched,
    max_pages: int,
) -> LikesPage:
    """The LikesPage of a token-paged round: the likes above the previous round's stop, the
    cursor of the next page (None at the stop, at the end or after `max_pages`), and the
    cursor the next round starts from."""
    fresh: list[Seen] = []
    stopped = False
    for entry in seen:
        older = (
            position.stop_at is not None and entry.at is not None and entry.at < position.stop_at
        )
        if entry.key in position.stop or older:
            stopped = True
            break
        fresh.append(entry)
    if position.page:  # later pages of a round keep the head its first page set
        head, head_at = position.head, position.head_at
    else:
        keys = dict.fromkeys([entry.key for entry in fresh] + list(position.stop))
        head = tuple(keys)[:STOP_IDS]
        head_at = fresh[0].at if fresh and fresh[0].at is not None else position.stop_at
    pages = position.pages + 1
    current = Position(position.page, position.stop, position.stop_at, head, head_at, pages)
    resume = current.resume()
    likes = tuple(entry.like for entry in fresh)
    if stopped or not next_page or pages >= max_pages:
        truncated = not stopped and bool(next_page)
        return LikesPage(likes, None, resume, fetched.rate, truncated=truncated)
    if next_page == position.page:
        raise BadPayload(f"{fetched.url}: the next page token does not move")
    following = Position(next_page, position.stop, position.stop_at, head, head_at, pages)
    return LikesPage(likes, following.encode(), resume, fetched.rate)


# --- page-numbered rounds -------------------------------------------------------------------


@dataclass(frozen=True)
class PagePosition:
    """A parsed page-numbered cursor (see the module doc); times are Unix seconds."""

    page: int = 1
    since: str = ""
    at: int | None = None
    top: str = ""
    topat: int | None = None
    last: str = ""
    lastat: int | None = None


@dataclass(frozen=True)
class PageCursor:
    """How one network writes its page-numbered cursors: `network` names it in messages,
    `check_id` and `check_number` raise BadPayload for an id or a number (page, time) it
    would not write; `times` says whether its cursors carry like times: "never",
    "optional" (where the network gave them), "required" (`at` goes with `since`, a later
    page has `topat` and `lastat`); `last_page` is the last page it serves, if any."""

    network: str
    check_id: Callable[[str, str], object]
    times: Literal["never", "optional", "required"] = "optional"
    last_page: int | None = None
    check_number: Callable[[str, str], object] = number

    def parse(self, cursor: str | None) -> PagePosition:
        if cursor is None:
            return PagePosition()
        refused = BadPayload(f"not a {self.network} cursor: {cursor[:80]!r}")
        try:
            query = parse_qs(cursor, strict_parsing=True)
        except ValueError as error:
            raise refused from error
        keys = {"since", "page", "top", "last"}
        if self.times != "never":
            keys |= {"at", "topat", "lastat"}
        if not set(query) <= keys or any(len(values) != 1 for values in query.values()):
            raise refused
        params = {name: values[0] for name, values in query.items()}
        for name, value in params.items():
            check = self.check_id if name in ("since", "top", "last") else self.check_number
            check(value, f"cursor {name}")
        page = int(params.get("page", "1"))
        if page < 1 or (self.last_page is not None and page > self.last_page):
            raise refused
        since, at = "since" in params, "at" in params
        if (at and not since) or (self.times == "required" and since and not at):
            raise refused
        needed = {"top", "last"} | ({"topat", "lastat"} if self.times == "required" else set())
        if page > 1 and not needed <= set(params):
            raise refused
        if page == 1 and set(params) - {"since", "at"}:
            raise refused

        def seconds(name: str) -> int | None:
            return int(params[name]) if name in params else None

        return PagePosition(
            page=page,
            since=params.get("since", ""),
            at=seconds("at"),
            top=params.get("top", ""),
            topat=seconds("topat"),
            last=params.get("last", ""),
            lastat=seconds("lastat"),
        )


def resume_cursor(top: str, topat: int | None) -> str:
    """Where the next round of a page-numbered list stops: `since=<top>[&at=<topat>]`."""
    return urlencode({"since": top} | ({"at": str(topat)} if topat is not None else {}))


def following_cursor(position: PagePosition, top: str, topat: int | None, read: list[Like]) -> str:
    """The next page's cursor; `read` is what this page gave (its oldest is the new `last`;
    none: the last like read is still the one before)."""
    params = {"page": str(position.page + 1), "top": top}
    if topat is not None:
        params["topat"] = str(topat)
    last, lastat = position.last, position.lastat
    if read:
        last, lastat = read[-1].like_id, _timestamp(read[-1].liked_at)
    params["last"] = last
    if lastat is not None:
        params["lastat"] = str(lastat)
    if position.since:
        params["since"] = position.since
        if position.at is not None:
            params["at"] = str(position.at)
    return urlencode(params)


def _newer(like: Like, seconds: int | None) -> bool:
    """Whether a like was given after `seconds` (never, where either time is unknown)."""
    at = _timestamp(like.liked_at)
    return seconds is not None and at is not None and at > seconds


def _older(like: Like, seconds: int | None) -> bool:
    """Whether a like was given before `seconds` (never, where either time is unknown)."""
    at = _timestamp(like.liked_at)
    return seconds is not None and at is not None and at < seconds


def page_round(
    position: PagePosition,
    likes: list[Like],
    has_next: bool,
    max_pages: int,
    rate: RateInfo,
) -> LikesPage:
    """The LikesPage of a page-numbered round (see the module doc): this page's likes less
    those read already and those at or past the previous round's stop, the next page's
    cursor (None at the stop, at the end, on an empty page or after `max_pages`) and the
    cursor the next round starts from. `likes` are the page's, newest first, each once."""
    fresh = list(likes)
    if position.last:  # likes added meanwhile push the last one read onto this page
        ids = [like.like_id for like in fresh]
        if position.last in ids:
            fresh = fresh[ids.index(position.last) + 1 :]
        # more than a page added meanwhile: the last like read is not here, and what was
        # liked after it is either read already or left to the next round
        fresh = [
            like
            for like in fresh
            if like.like_id != position.last and not _newer(like, position.lastat)
        ]
    reached = False
    for index, like in enumerate(fresh):
        older = bool(position.since) and _older(like, position.at)
        if like.like_id == position.since or older:
            fresh, reached = fresh[:index], True
            break
    if position.page > 1:
        top, topat = position.top, position.topat
    elif fresh:
        top, topat = fresh[0].like_id, _timestamp(fresh[0].liked_at)
    else:
        top, topat = position.since, position.at
    resume = resume_cursor(top, topat) if top else None
    if not has_next or not likes or reached or position.page >= max_pages:
        truncated = has_next and bool(likes) and not reached
        return LikesPage(tuple(fresh), None, resume, rate, truncated=truncated)
    following = following_cursor(position, top, topat, fresh)
    return LikesPage(tuple(fresh), following, resume, rate)
