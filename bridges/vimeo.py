"""Vimeo: the donor's liked videos, their uploaders the creators.

Connecting: an app the admin registers on developer.vimeo.com (`[bridges.vimeo] client_id`,
`client_secret`). The donor is sent to `https://api.vimeo.com/oauth/authorize` (scopes
`public private`, a state; no PKCE), the code is exchanged at
`https://api.vimeo.com/oauth/access_token` with HTTP Basic client authentication, and
`GET /me` says who signed in. Vimeo tokens do not expire and come without refresh tokens: a
token that stops working is revoked, the donor connects again. Every request sends
`Accept: application/vnd.vimeo.*+json;version=3.4` (the API version we read).

Likes: `GET /me/likes?page=N&per_page=50` answers Vimeo's collection (`data`, `page`,
`per_page`, `total`, `paging.next` a path or null), newest like first. Likes have no id of
their own: a `Like`'s `like_id` and `item_id` are the video's numeric id (from its `uri`,
`/videos/<id>`); `item_url` is `https://vimeo.com/<id>`; `liked_at` is
`metadata.interactions.like.added_time` where the answer has it (else None). The creator is
the video's `user`: the numeric id of its `uri` (`/users/<id>`, stable), the name in its
`link` (`https://vimeo.com/<name>`) as handle, else `user<id>`, and that link as profile.

Cursors (query strings, strictly parsed; ids are numbers):
- None: page 1 of a first round, which reads at most `MAX_PAGES_PER_ROUND` pages.
- `since=<video id>[&at=<unix seconds>]`: a later round, from page 1 down to that like (or to
  any like older than `at`, should that one have been unliked).
- `page=<n>&top=<id>[&topat=<t>]&last=<id>[&lastat=<t>][&since=…]`: the next page of a
  round; `top` is its newest like (the resume point), `last` the last like read: likes added
  meanwhile shift the page, which then repeats likes already read; those (and, where Vimeo
  gives times, likes given after `lastat`, left to the next round) are dropped.
Every page's `resume_cursor` is `since=<top>` (with `at` where Vimeo gave its time). Page
numbers shift when likes are removed during a round; an older like can then move onto a
page already read and be missed (the known gap of page-numbered lists).

Rate limits: `X-RateLimit-Limit`, `-Remaining`, `-Reset`; over them Vimeo answers 429
(`RateLimited`, waiting until the reset).

Hostile answers fail the page with `BadPayload`: not a collection, more videos than asked, a
video twice, uris that are not `/videos/<digits>` or `/users/<digits>`, a `paging.next`
outside the API root or one that does not move to the following page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from bridges.base import Creator, Credentials, Like, LikesPage
from bridges.errors import BadPayload
from bridges.http import Fetched, check_uri
from bridges.oauth2 import Endpoints, OAuth2Network

PAGE_SIZE = 50
MAX_PAGES_PER_ROUND = 20
TITLE_LENGTH = 120
WEB = "https://vimeo.com"
VIMEO_JSON = "application/vnd.vimeo.*+json;version=3.4"
LIKE_FIELDS = "uri,name,link,user.uri,user.name,user.link,metadata.interactions.like"
NUMBER_RE = re.compile(r"[0-9]{1,20}")
VIDEO_URI_RE = re.compile(r"/videos/([0-9]{1,20})")
USER_URI_RE = re.compile(r"/users/([0-9]{1,20})")
VANITY_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
CURSOR_KEYS = frozenset({"since", "at", "page", "top", "topat", "last", "lastat"})


def _number(value: str, what: str) -> str:
    if not NUMBER_RE.fullmatch(value):
        raise BadPayload(f"{what}: not a number: {value[:80]!r}")
    return value


def _uri_id(value: object, pattern: re.Pattern[str], what: str) -> str:
    match = pattern.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise BadPayload(f"{what}: not a Vimeo uri we accept: {str(value)[:80]!r}")
    return match.group(1)


def parse_time(value: object, what: str) -> datetime:
    """An ISO 8601 time with a zone (Vimeo's `2026-11-02T08:14:27+00:00`)."""
    if not isinstance(value, str) or len(value) > 40:
        raise BadPayload(f"{what}: not a time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadPayload(f"{what}: not a time: {value[:40]!r}") from error
    if moment.tzinfo is None:
        raise BadPayload(f"{what}: a time without a zone")
    return moment.astimezone(UTC)


def plain(text: str, length: int = TITLE_LENGTH) -> str:
    """A name as one line of plain text (no control characters), cut to `length`."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return cleaned if len(cleaned) <= length else cleaned[: length - 1].rstrip() + "…"


@dataclass(frozen=True)
class Position:
    """A parsed cursor (see the module doc)."""

    page: int = 1
    since: str = ""
    at: int | None = None
    top: str = ""
    topat: int | None = None
    last: str = ""
    lastat: int | None = None

    @classmethod
    def parse(cls, cursor: str | None) -> Position:
        if cursor is None:
            return cls()
        refused = BadPayload(f"not a Vimeo cursor: {cursor[:80]!r}")
        try:
            query = parse_qs(cursor, strict_parsing=True)
        except ValueError as error:
            raise refused from error
        if not set(query) <= CURSOR_KEYS or any(len(values) != 1 for values in query.values()):
            raise refused
        params = {name: _number(values[0], f"cursor {name}") for name, values in query.items()}
        page = int(params.get("page", "1"))
        if page < 1 or ("at" in params and "since" not in params):
            raise refused
        if page > 1 and not {"top", "last"} <= set(params):
            raise refused
        if page == 1 and set(params) - {"since", "at"}:
            raise refused
        return cls(
            page=page,
            since=params.get("since", ""),
            at=int(params["at"]) if "at" in params else None,
            top=params.get("top", ""),
            topat=int(params["topat"]) if "topat" in params else None,
            last=params.get("last", ""),
            lastat=int(params["lastat"]) if "lastat" in params else None,
        )

    @staticmethod
    def resume(top: str, topat: int | None) -> str:
        return urlencode({"since": top} | ({"at": str(topat)} if topat is not None else {}))

    def following(self, top: str, topat: int | None, read: list[Like]) -> str:
        """The next page's cursor; `read` is what this page gave (its oldest is the new
        `last`; none: the last like read is still the one before)."""
        params = {"page": str(self.page + 1), "top": top}
        if topat is not None:
            params["topat"] = str(topat)
        last, lastat = self.last, self.lastat
        if read:
            at = read[-1].liked_at
            last, lastat = read[-1].like_id, int(at.timestamp()) if at else None
        params["last"] = last
        if lastat is not None:
            params["lastat"] = str(lastat)
        if self.since:
            params["since"] = self.since
            if self.at is not None:
                params["at"] = str(self.at)
        return urlencode(params)


class VimeoNetwork(OAuth2Network):
    """Vimeo likes (see the module doc)."""

    name = "vimeo"
    label = "Vimeo"
    endpoints = Endpoints(
        authorize="https://api.vimeo.com/oauth/authorize",
        token="https://api.vimeo.com/oauth/access_token",
        api="https://api.vimeo.com",
    )
    scopes = ("public", "private")
    pkce = False
    client_auth = "basic"

    async def _get(
        self, credentials: Credentials, path: str, params: Mapping[str, str] | None = None
    ) -> Fetched:
        return await self.api_get(credentials, path, params, accept=VIMEO_JSON)

    def _user(self, user: object, where: str) -> Creator:
        if not isinstance(user, dict):
            raise BadPayload(f"{where}: no user")
        user_id = _uri_id(user.get("uri"), USER_URI_RE, f"{where} uri")
        handle = f"user{user_id}"
        link = user.get("link")
        if isinstance(link, str) and link.startswith(WEB + "/"):
            name = link.removeprefix(WEB + "/")
            if VANITY_RE.fullmatch(name):
                handle = name
        return Creator(self.name, user_id, handle, check_uri(f"{WEB}/{handle}", f"{where} link"))

    async def whoami(self, credentials: Credentials) -> Creator:
        return self._user((await self._get(credentials, "/me")).json_object(), "GET /me")

    def parse_video(self, video: object, where: str) -> Like:
        """A video (with its like's metadata where present) as a Like."""
        if not isinstance(video, dict):
            raise BadPayload(f"{where}: not a video object")
        video_id = _uri_id(video.get("uri"), VIDEO_URI_RE, f"{where} uri")
        creator = self._user(video.get("user"), f"{where} user")
        name = video.get("name")
        title = plain(name) if isinstance(name, str) else ""
        liked_at = None
        metadata = video.get("metadata")
        interactions = metadata.get("interactions") if isinstance(metadata, dict) else None
        like = interactions.get("like") if isinstance(interactions, dict) else None
        if isinstance(like, dict) and like.get("added_time") is not None:
            liked_at = parse_time(like["added_time"], f"{where} like added_time")
        url = check_uri(f"{WEB}/{video_id}", f"{where} link")
        return Like(video_id, video_id, url, creator, title, liked_at)

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's likes, newest first (see the module doc)."""
        position = Position.parse(cursor)
        params = {"page": str(position.page), "per_page": str(PAGE_SIZE), "fields": LIKE_FIELDS}
        fetched = await self._get(credentials, "/me/likes", params)
        document = fetched.json_object()
        likes = self._likes(document, fetched.url)
        fresh = list(likes)
        if position.last:  # likes added meanwhile push the last one read onto this page
            ids = [like.like_id for like in fresh]
            if position.last in ids:
                fresh = fresh[ids.index(position.last) + 1 :]
            # more than a page added meanwhile: the last like read is not here, and what
            # was liked after it is either read already or left to the next round
            fresh = [
                like
                for like in fresh
                if like.like_id != position.last and not _newer(like, position.lastat)
            ]
        reached = False
        for index, like in enumerate(fresh):
            at = like.liked_at
            older = (
                position.since
                and position.at is not None
                and at is not None
                and int(at.timestamp()) < position.at
            )
            if like.like_id == position.since or older:
                fresh, reached = fresh[:index], True
                break
        if position.page > 1:
            top, topat = position.top, position.topat
        elif fresh:
            newest = fresh[0].liked_at
            top, topat = fresh[0].like_id, int(newest.timestamp()) if newest else None
        else:
            top, topat = position.since, position.at
        resume = Position.resume(top, topat) if top else None
        following = self._next(document, position.page, fetched.url)
        if following is None or not likes or reached or position.page >= MAX_PAGES_PER_ROUND:
            return LikesPage(tuple(fresh), None, resume, fetched.rate)
        cursor_next = position.following(top, topat, fresh)
        return LikesPage(tuple(fresh), cursor_next, resume, fetched.rate)

    def _likes(self, document: Mapping[str, object], where: str) -> list[Like]:
        data = document.get("data")
        if not isinstance(data, list):
            raise BadPayload(f"{where}: not a Vimeo collection")
        if len(data) > PAGE_SIZE:
            raise BadPayload(f"{where}: {len(data)} videos for {PAGE_SIZE} asked")
        likes: list[Like] = []
        seen: set[str] = set()
        for index, video in enumerate(data):
            like = self.parse_video(video, f"{where} item {index}")
            if like.like_id in seen:
                raise BadPayload(f"{where}: video {like.like_id} listed twice")
            seen.add(like.like_id)
            likes.append(like)
        return likes

    def _next(self, document: Mapping[str, object], page: int, where: str) -> str | None:
        """The checked `paging.next`: under the API root, and the following page."""
        paging = document.get("paging")
        if paging is None:
            return None
        if not isinstance(paging, dict):
            raise BadPayload(f"{where}: paging is not an object")
        link = paging.get("next")
        if link is None:
            return None
        if not isinstance(link, str):
            raise BadPayload(f"{where}: paging.next is not a path")
        target = self.api_url(link)  # BadPayload outside the API root
        if parse_qs(urlsplit(target).query).get("page") != [str(page + 1)]:
            raise BadPayload(f"{where}: paging.next does not move to page {page + 1}")
        return target

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A video by its numeric id (`GET /videos/{id}`); the like time is not known here."""
        video_id = _number(item_id, "video id")
        fetched = await self._get(credentials, f"/videos/{video_id}", {"fields": LIKE_FIELDS})
        like = self.parse_video(fetched.json_object(), fetched.url)
        return Like(like.like_id, like.item_id, like.item_url, like.creator, like.title, None)


def _newer(like: Like, seconds: int | None) -> bool:
    """Whether a like was given after `seconds` (never, where either time is unknown)."""
    at = like.liked_at
    return seconds is not None and at is not None and int(at.timestamp()) > seconds
