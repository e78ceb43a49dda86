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

Cursors (a page-numbered round of `bridges.rounds`; ids are numbers):
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
from urllib.parse import parse_qs, urlsplit

from bridges.base import Creator, Credentials, Like, LikesPage
from bridges.errors import BadPayload
from bridges.http import Fetched, check_uri
from bridges.oauth2 import Endpoints, OAuth2Network
from bridges.rounds import PageCursor, each_once, number, one_line, page_round, parse_time

PAGE_SIZE = 50
MAX_PAGES_PER_ROUND = 20
WEB = "https://vimeo.com"
VIMEO_JSON = "application/vnd.vimeo.*+json;version=3.4"
LIKE_FIELDS = "uri,name,link,user.uri,user.name,user.link,metadata.interactions.like"
VIDEO_URI_RE = re.compile(r"/videos/([0-9]{1,20})")
USER_URI_RE = re.compile(r"/users/([0-9]{1,20})")
VANITY_RE = re.compile(r"[A-Za-z0-9_]{1,64}")


def _uri_id(value: object, pattern: re.Pattern[str], what: str) -> str:
    match = pattern.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise BadPayload(f"{what}: not a Vimeo uri we accept: {str(value)[:80]!r}")
    return match.group(1)


CURSOR = PageCursor("Vimeo", number)


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
        title = one_line(name) if isinstance(name, str) else ""
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
        position = CURSOR.parse(cursor)
        params = {"page": str(position.page), "per_page": str(PAGE_SIZE), "fields": LIKE_FIELDS}
        fetched = await self._get(credentials, "/me/likes", params)
        document = fetched.json_object()
        likes = self._likes(document, fetched.url)
        following = self._next(document, position.page, fetched.url)
        return page_round(position, likes, following is not None, MAX_PAGES_PER_ROUND, fetched.rate)

    def _likes(self, document: Mapping[str, object], where: str) -> list[Like]:
        data = document.get("data")
        if not isinstance(data, list):
            raise BadPayload(f"{where}: not a Vimeo collection")
        if len(data) > PAGE_SIZE:
            raise BadPayload(f"{where}: {len(data)} videos for {PAGE_SIZE} asked")
        return each_once(data, self.parse_video, where, "video")

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
        video_id = number(item_id, "video id")
        fetched = await self._get(credentials, f"/videos/{video_id}", {"fields": LIKE_FIELDS})
        like = self.parse_video(fetched.json_object(), fetched.url)
        return Like(like.like_id, like.item_id, like.item_url, like.creator, like.title, None)
