"""Dailymotion: the donor's liked videos, their owners the creators.

Connecting: an API key the admin creates in the Dailymotion Studio (`[bridges.dailymotion]
client_id` is the API key, `client_secret` the API secret). The donor is sent to
`https://www.dailymotion.com/oauth/authorize` (a state, no PKCE, no scope: a user's likes and
the `id`, `username` and `url` fields are public data, which every token may read; `userinfo`
would give address and birthday, which we do not want), the code is exchanged at
`https://api.dailymotion.com/oauth/token` (secret in the form) and
`GET /me?fields=id,username,url` says who signed in. Access tokens expire (`expires_in`,
ten hours) and come with refresh tokens, which the shared OAuth 2 base uses.

Likes: `GET /me/likes?fields=id,owner,owner.username,owner.url,title,url,created_time&limit=100
&page=N` answers Dailymotion's list (`page`, `limit`, `has_more`, `list`; at most 100 items
and page 100), with sub-fields as flat keys (`"owner.username"`), most recent like first.
Dailymotion keeps no time for a like (`created_time` is the video's), so `liked_at` is None.
A `Like`'s `like_id` and `item_id` are the video id (`x8abc12`); `item_url` is
`https://www.dailymotion.com/video/<id>`; the creator is `owner` (the owner's stable id),
with `owner.username` as handle and `https://www.dailymotion.com/<username>` as profile.

Cursors (a page-numbered round of `bridges.rounds`; ids are lower-case letters and digits):
- None: page 1 of a first round, which reads at most `MAX_PAGES_PER_ROUND` pages.
- `since=<video id>`: a later round, from page 1 down to that like.
- `page=<n>&top=<id>&last=<id>[&since=<id>]`: the next page of a round; `top` is its newest
  like (the resume point), `last` the last like read: likes added meanwhile shift the page
  and repeat it, and what precedes it is dropped. Without like times, more than a page of
  likes added while a round waits cannot be told from those read: that page is read again
  (a repeat, never a loss; the server counts a like once).
Every page's `resume_cursor` is `since=<top>`. Without like times, a round whose resume
point was unliked reads down to its page bound (its likes are already known to the server,
which counts a like once). Page numbers shift when likes are removed during a round: an older
like can then move onto a page already read and be missed (the known gap of page-numbered
lists).

Errors: Dailymotion's are `{"error": {"code", "message", "type", …}}`. A 401 is an expired
or invalid token (with a refresh token, `TokenExpired`: the poller refreshes once); 429,
and a 403 of type `rate_limit_exceeded`, are `RateLimited`; another 403 is `TokenRevoked`.

Hostile answers fail the page with `BadPayload`: not a list, more videos than asked, a video
twice, ids or usernames with other characters, `has_more` that is not a boolean, a next page
past Dailymotion's last (100).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bridges.base import Creator, Credentials, Like, LikesPage
from bridges.errors import BadPayload, RateLimited, TokenRevoked
from bridges.http import Fetched, check_uri, retry_after
from bridges.oauth2 import Endpoints, OAuth2Network
from bridges.rounds import PageCursor, each_once, one_line, page_round

PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 10
LAST_PAGE = 100  # Dailymotion answers no page past the hundredth
WEB = "https://www.dailymotion.com"
LIKE_FIELDS = "id,owner,owner.username,owner.url,title,url,created_time"
ME_FIELDS = "id,username,url"
ID_RE = re.compile(r"[a-z0-9]{1,24}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def video_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise BadPayload(f"{what}: not a Dailymotion id: {str(value)[:80]!r}")
    return value


CURSOR = PageCursor("Dailymotion", video_id, times="never", last_page=LAST_PAGE)


class DailymotionNetwork(OAuth2Network):
    """Dailymotion likes (see the module doc)."""

    name = "dailymotion"
    label = "Dailymotion"
    endpoints = Endpoints(
        authorize="https://www.dailymotion.com/oauth/authorize",
        token="https://api.dailymotion.com/oauth/token",
        api="https://api.dailymotion.com",
    )
    scopes = ()
    pkce = False

    async def _get(
        self, credentials: Credentials, path: str, params: Mapping[str, str] | None = None
    ) -> Fetched:
        """An API read; a 403 is read before it is believed (a rate limit or a refusal)."""
        fetched = await self.api_get(credentials, path, params, expect=(200, 403))
        if fetched.status == 403:
            error = _error(fetched)
            if error.get("type") == "rate_limit_exceeded":
                raise RateLimited(
                    f"{fetched.url} answered 403 (Dailymotion rate limit)",
                    retry_after(fetched.headers),
                )
            said = error.get("message")
            raise TokenRevoked(f"{fetched.url} answered 403: {str(said or 'access refused')[:200]}")
        return fetched

    def _owner(self, owner_id: object, username: object, where: str) -> Creator:
        stable = video_id(owner_id, f"{where} owner")
        if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
            raise BadPayload(f"{where}: not a Dailymotion username: {str(username)[:80]!r}")
        return Creator(self.name, stable, username, check_uri(f"{WEB}/{username}", where))

    async def whoami(self, credentials: Credentials) -> Creator:
        me = (await self._get(credentials, "/me", {"fields": ME_FIELDS})).json_object()
        return self._owner(me.get("id"), me.get("username"), "GET /me")

    def parse_video(self, video: object, where: str) -> Like:
        if not isinstance(video, dict):
            raise BadPayload(f"{where}: not a video object")
        item = video_id(video.get("id"), f"{where} id")
        creator = self._owner(video.get("owner"), video.get("owner.username"), where)
        title = video.get("title")
        url = check_uri(f"{WEB}/video/{item}", f"{where} url")
        return Like(item, item, url, creator, one_line(title) if isinstance(title, str) else "")

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's likes, most recent first (see the module doc)."""
        position = CURSOR.parse(cursor)
        params = {"fields": LIKE_FIELDS, "limit": str(PAGE_SIZE), "page": str(position.page)}
        fetched = await self._get(credentials, "/me/likes", params)
        document = fetched.json_object()
        likes = self._likes(document, fetched.url)
        has_more = document.get("has_more", False)
        if not isinstance(has_more, bool):
            raise BadPayload(f"{fetched.url}: has_more is not a boolean")
        if has_more and position.page >= LAST_PAGE:
            raise BadPayload(f"{fetched.url}: has_more past the last page Dailymotion serves")
        return page_round(position, likes, has_more, MAX_PAGES_PER_ROUND, fetched.rate)

    def _likes(self, document: Mapping[str, object], where: str) -> list[Like]:
        items = document.get("list")
        if not isinstance(items, list):
            raise BadPayload(f"{where}: not a Dailymotion list")
        if len(items) > PAGE_SIZE:
            raise BadPayload(f"{where}: {len(items)} videos for {PAGE_SIZE} asked")
        return each_once(items, self.parse_video, where, "video")

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A video by its id (`GET /video/{id}`)."""
        item = video_id(item_id, "video id")
        fetched = await self._get(credentials, f"/video/{item}", {"fields": LIKE_FIELDS})
        return self.parse_video(fetched.json_object(), fetched.url)


def _error(fetched: Fetched) -> Mapping[str, object]:
    """Dailymotion's error object (`{"error": {…}}`), empty when the body has none."""
    try:
        document = fetched.json_object()
    except BadPayload:
        return {}
    error = document.get("error")
    return error if isinstance(error, dict) else {}
