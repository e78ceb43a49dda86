"""Tumblr: the donor's liked posts through the Tumblr API v2 (`/v2/user/likes`).

Connecting: OAuth 2 authorization code (Tumblr documents no PKCE; the state protects the
flow), authorize at `https://www.tumblr.com/oauth2/authorize`, token at
`https://api.tumblr.com/v2/oauth2/token` with the client id and secret in the form, scopes
`basic offline_access` (the second gives refresh tokens; access tokens live about 40
minutes, and each refresh answers a new refresh token).

Who: a Tumblr user has no public id of their own; their blogs do. `GET /v2/user/info`
answers `response.user.name` and `blogs[]` (`name`, `url`, `primary`, `admin`, `uuid`). The
donor's identity (`whoami`) is their primary blog: its `uuid` (`t:…`, stable across renames)
as `external_id`, the blog name as handle, `https://www.tumblr.com/<name>` as profile. A
creator claims a blog with the same sign-in (`verify_claim`): the primary blog, or the blog
named when the claim started (`start_connect`'s `handle`: a blog name or uuid, kept in
`pending["blog"]`), which must be one of the user's blogs that they own (primary or
`admin`); a group blog they may only post to is refused.

Likes: `GET /v2/user/likes?limit=20&before=<Unix seconds>`, newest like first. A `Like`:
`like_id` and `item_id` are the post's `id_string` (Tumblr post ids are unique across
blogs; likes have no id of their own); `item_url` is `https://www.tumblr.com/<blog>/<id>`
(built from the checked blog name and id, never from `post_url`, which may be any custom
domain); the creator is the post's blog (`blog.uuid`, `blog_name`); `liked_at` is
`liked_timestamp`; the title the post's `summary` (plain text, cut).

Cursors: a token-paged round of `bridges.rounds` (`Position`, `round_page`): a round reads from
the top and stops at the previous round's newest likes (`stop`: post ids; `stop_at`: the newest
like time, older likes end the round). Paging is by time: the page after a page whose last like
was at `t` asks `before=t+1` and leaves out the posts already read at `t` (their ids ride in
the page token, `<t+1>-<id>-<id>`), so likes that share the boundary second are neither lost
nor counted twice (the boundary like is fetched again and dropped: 19 new likes a page after
the first). A page of 20 likes in one second cannot move on: `BadPayload`.
`response._links.next`, when given, must be a link under the API root (else `BadPayload`); its
absence ends the round.

Rate limits: 1,000 calls an hour and 5,000 a day per app (`shared_rate_limit`). A 429 waits
for `Retry-After` where sent, else the longest `X-Ratelimit-Per{hour,day}-Reset` (seconds)
whose `-Remaining` is 0, else a minute. Errors are Tumblr's `{"meta": {"status", "msg"},
"errors": [{"title", "code", "detail"}]}`; 401 is `TokenExpired` with a refresh token (the
poller's one refresh decides), else `TokenRevoked`. Hostile answers fail the page with
`BadPayload`: not the documented shape, more posts than asked, a post twice, ids or blog
names with other characters, a blog uuid that is not one, a cursor that does not move.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from bridges.base import (
    Connection,
    ConnectStart,
    Creator,
    Credentials,
    Like,
    LikesPage,
    RateInfo,
)
from bridges.errors import BadPayload, ConnectFailed, RateLimited
from bridges.http import DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER, Fetched, check_uri
from bridges.oauth2 import Endpoints, OAuth2Network
from bridges.rounds import Seen, check, parse_position, plain_title, round_page

PAGE_SIZE = 20
MAX_PAGES_PER_ROUND = 50
RESOLVE_PAGES = 5
POST_ID_RE = re.compile(r"[0-9]{1,25}")
BLOG_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")
BLOG_UUID_RE = re.compile(r"t:[A-Za-z0-9_-]{16,32}")
PAGE_RE = re.compile(r"([0-9]{1,12})((?:-[0-9]{1,25}){0,20})")


def blog_creator(uuid: str, name: str) -> Creator:
    return Creator("tumblr", uuid, name, f"https://www.tumblr.com/{name}")


def _page_token(before: int, skip: list[str]) -> str:
    return "-".join([str(before), *skip])


def _parse_page(token: str) -> tuple[int, frozenset[str]]:
    match = PAGE_RE.fullmatch(token)
    if match is None:
        raise BadPayload(f"not a Tumblr cursor page: {token[:80]!r}")
    return int(match.group(1)), frozenset(match.group(2).split("-")[1:])


def _seconds(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**11:
        raise BadPayload(f"{what}: not a time in Unix seconds: {str(value)[:40]!r}")
    return value


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def tumblr_rate(headers: Mapping[str, str]) -> RateInfo:
    """The hourly limit from Tumblr's X-Ratelimit-Perhour-* headers (reset in seconds)."""
    reset = _header_int(headers, "x-ratelimit-perhour-reset")
    return RateInfo(
        limit=_header_int(headers, "x-ratelimit-perhour-limit"),
        remaining=_header_int(headers, "x-ratelimit-perhour-remaining"),
        reset_at=datetime.fromtimestamp(datetime.now(UTC).timestamp() + reset, UTC)
        if reset is not None
        else None,
    )


def tumblr_wait(headers: Mapping[str, str]) -> float:
    """Seconds to wait after Tumblr's 429 (see the module doc)."""
    wait = _header_int(headers, "retry-after")
    if wait is None:
        spent = [
            _header_int(headers, f"x-ratelimit-per{window}-reset") or 0
            for window in ("hour", "day")
            if _header_int(headers, f"x-ratelimit-per{window}-remaining") == 0
        ]
        wait = max(spent) if spent else int(DEFAULT_RETRY_AFTER)
    return float(min(max(wait, 1), MAX_RETRY_AFTER))


class TumblrNetwork(OAuth2Network):
    """Tumblr accounts over OAuth 2; likes from /v2/user/likes; identities are blogs."""

    name = "tumblr"
    label = "Tumblr"
    group_claim = "blog"
    endpoints: ClassVar[Endpoints] = Endpoints(
        authorize="https://www.tumblr.com/oauth2/authorize",
        token="https://api.tumblr.com/v2/oauth2/token",
        api="https://api.tumblr.com/v2",
    )
    scopes: ClassVar[tuple[str, ...]] = ("basic", "offline_access")
    pkce: ClassVar[bool] = False
    shared_rate_limit = True  # the limits are the app's (per consumer key)

    async def _read(
        self, credentials: Credentials, path: str, params: Mapping[str, str]
    ) -> tuple[Fetched, dict[str, object]]:
        """One API call: Tumblr's 429 decided here; the body's `response` object."""
        fetched = await self.api_get(credentials, path, params, expect=(200, 429))
        if fetched.status == 429:
            raise RateLimited(f"{fetched.url} answered 429", tumblr_wait(fetched.headers))
        document = fetched.json_object()
        meta = document.get("meta")
        if not isinstance(meta, dict) or meta.get("status") != 200:
            raise BadPayload(f"{fetched.url}: meta does not say 200")
        response = document.get("response")
        if not isinstance(response, dict):
            raise BadPayload(f"{fetched.url}: no response object")
        return fetched, response

    # --- who --------------------------------------------------------------------------------

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart:
        """Send the donor (or a creator) to Tumblr; `handle`, when given, names the blog a
        creator claims (its name or uuid), checked when they come back."""
        start = await super().start_connect(handle, redirect_uri, state)
        blog = handle.strip().removeprefix("@").lower()
        if not blog:
            return start
        if not (BLOG_NAME_RE.fullmatch(blog) or BLOG_UUID_RE.fullmatch(handle.strip())):
            raise ConnectFailed(f"not a Tumblr blog name: {handle[:80]!r}")
        named = handle.strip() if handle.strip().startswith("t:") else blog
        return ConnectStart(start.kind, start.redirect_to, {**start.pending, "blog": named})

    async def blogs(self, credentials: Credentials) -> list[tuple[Creator, bool, bool]]:
        """The user's blogs from /v2/user/info: (blog, primary, owned)."""
        fetched, response = await self._read(credentials, "/user/info", {})
        user = response.get("user")
        blogs = user.get("blogs") if isinstance(user, dict) else None
        if not isinstance(blogs, list):
            raise BadPayload(f"{fetched.url}: no user blogs")
        found: list[tuple[Creator, bool, bool]] = []
        for index, blog in enumerate(blogs):
            if not isinstance(blog, dict):
                raise BadPayload(f"{fetched.url} blog {index}: not an object")
            name = check(BLOG_NAME_RE, blog.get("name"), f"{fetched.url} blog {index} name")
            uuid = check(BLOG_UUID_RE, blog.get("uuid"), f"{fetched.url} blog {index} uuid")
            primary = blog.get("primary") is True
            found.append((blog_creator(uuid, name), primary, primary or blog.get("admin") is True))
        return found

    async def whoami(self, credentials: Credentials) -> Creator:
        """The user's primary blog."""
        for blog, primary, _ in await self.blogs(credentials):
            if primary:
                return blog
        raise BadPayload("the Tumblr account has no primary blog")

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """The blog the creator proves: the primary one, or the one named at the start if
        they own it (see the module doc)."""
        connection: Connection = await self.finish_connect(
            pending, callback, pending.get("redirect_uri", "")
        )
        wanted = pending.get("blog", "")
        if not wanted:
            return connection.account
        for blog, _, owned in await self.blogs(connection.credentials):
            if wanted in (blog.external_id, blog.handle.lower()):
                if not owned:
                    raise ConnectFailed(f"{blog.handle} is a blog you may post to, not yours")
                return blog
        raise ConnectFailed(f"{wanted} is not one of your Tumblr blogs")

    # --- likes ------------------------------------------------------------------------------

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of liked posts (see the module doc for the cursors)."""
        position = parse_position(cursor, POST_ID_RE, "Tumblr")
        params = {"limit": str(PAGE_SIZE)}
        skip: frozenset[str] = frozenset()
        if position.page:
            before, skip = _parse_page(position.page)
            params["before"] = str(before)
        fetched, response = await self._read(credentials, "/user/likes", params)
        posts = response.get("liked_posts")
        if not isinstance(posts, list) or len(posts) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: liked_posts missing or more than {PAGE_SIZE}")
        read: list[Seen] = []
        for index, post in enumerate(posts):
            read.append(self.parse_post(post, f"{fetched.url} post {index}"))
        ids = [entry.key for entry in read]
        if len(set(ids)) != len(ids):
            raise BadPayload(f"{fetched.url}: a post listed twice")
        self._check_order(read, fetched.url)
        fresh = [entry for entry in read if entry.key not in skip]
        next_page = self._next_page(response, read, fetched)
        page = round_page(position, fresh, next_page, fetched, MAX_PAGES_PER_ROUND)
        return replace(page, rate=tumblr_rate(fetched.headers))

    def _check_order(self, read: list[Seen], url: str) -> None:
        times = [entry.at or 0 for entry in read]
        if times != sorted(times, reverse=True):
            raise BadPayload(f"{url}: likes out of order")

    def _next_page(
        self, response: Mapping[str, object], read: list[Seen], fetched: Fetched
    ) -> str | None:
        links = response.get("_links")
        following = links.get("next") if isinstance(links, dict) else None
        if not read or following is None:
            return None
        href = following.get("href") if isinstance(following, dict) else None
        if not isinstance(href, str):
            raise BadPayload(f"{fetched.url}: a next link without href")
        if not href.startswith("/v2/"):
            self.api_url(href)  # an absolute link must stay under the API root
        last = read[-1].at or 0
        boundary = [entry.key for entry in read if entry.at == last]
        return _page_token(last + 1, boundary)

    def parse_post(self, post: object, where: str = "post") -> Seen:
        """A liked post as a like of its blog."""
        if not isinstance(post, dict):
            raise BadPayload(f"{where}: not an object")
        post_id = check(POST_ID_RE, post.get("id_string"), f"{where} id_string")
        if str(post.get("id", post_id)) != post_id:
            raise BadPayload(f"{where}: id and id_string differ")
        name = check(BLOG_NAME_RE, post.get("blog_name"), f"{where} blog_name")
        blog = post.get("blog")
        if not isinstance(blog, dict):
            raise BadPayload(f"{where}: no blog object")
        uuid = check(BLOG_UUID_RE, blog.get("uuid"), f"{where} blog uuid")
        if blog.get("name", name) != name:
            raise BadPayload(f"{where}: blog.name and blog_name differ")
        liked = _seconds(post.get("liked_timestamp"), f"{where} liked_timestamp")
        url = check_uri(f"https://www.tumblr.com/{name}/{post_id}", f"{where} url")
        title = plain_title(post.get("summary"))
        liked_at = datetime.fromtimestamp(liked, UTC)
        like = Like(post_id, post_id, url, blog_creator(uuid, name), title, liked_at)
        return Seen(like, post_id, liked)

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A liked post by id, found among the newest likes (Tumblr reads a post only with
        its blog's name, which an id alone does not give)."""
        post_id = check(POST_ID_RE, item_id, "post id")
        cursor: str | None = None
        for _ in range(RESOLVE_PAGES):
            page = await self.list_likes(credentials, cursor)
            for like in page.likes:
                if like.item_id == post_id:
                    return like
            cursor = page.next_cursor
            if cursor is None:
                break
        raise BadPayload(f"post {post_id} is not among the recent likes")
