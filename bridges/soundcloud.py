"""SoundCloud: the tracks a donor liked, through `GET /me/likes/tracks`.

Connecting: OAuth 2.1, the authorization-code flow with PKCE (S256) and a state, on
`https://secure.soundcloud.com/authorize`; the code is exchanged at
`https://secure.soundcloud.com/oauth/token` with the app's id and secret in the form (the
legacy `api.soundcloud.com/oauth2/token` is deprecated). No scopes: a token may do what the donor
may. Access tokens live about an hour and come with a refresh token that works once
(`OAuth2Network.refresh` keeps the new one). The API (`https://api.soundcloud.com`) takes the
token as `Authorization: OAuth <token>`, the scheme SoundCloud's guide documents. The donor's
identity is `GET /me`: the user's URN (`soundcloud:users:<id>`) is the stable id, the
`permalink` the handle, `https://soundcloud.com/<permalink>` the profile.

Likes: `/me/likes/tracks?linked_partitioning=true&limit=50` answers
`{"collection": [track, …], "next_href": …}`, newest like first. SoundCloud keeps no time
and no id for a like: `liked_at` is None, and a `Like`'s `like_id` and `item_id` are the
track's URN (`soundcloud:tracks:<id>`). `item_url` is the track's API address
`https://api.soundcloud.com/tracks/<id>` (SoundCloud's own `uri` for it, built here from the
id; the `permalink_url` changes with a rename and is not used). The creator is `track.user`:
its URN, permalink and profile. Titles are plain text, cut to 120 characters.

Cursors (query strings, ours; `next_href` is SoundCloud's own opaque link):
- None: the newest page, a first round.
- `stop=<id>,<id>…`: a later round: the newest page, read down to the first of these tracks
  (the newest few of the round before, so that one unlike does not lose the place).
- `href=<next_href>&newest=<ids>&pages=<n>[&stop=<ids>]`: the next page of a round; `newest`
  is the top of the round, what every page's `resume_cursor` (`stop=<newest>`) keeps.
A round reads at most `MAX_PAGES_PER_ROUND` pages. A 429 mid-round leaves the stored
`href=` checkpoint: the round resumes at the page it did not read, none read twice.
These are not the token-paged cursors of `bridges.rounds` (whose `STOP_IDS` they share): a
page is SoundCloud's whole `next_href`, and `newest` keeps the first tracks of the round's
first page, those at or below the stop included.

Hostile answers fail the page with `BadPayload`: a body that is not `{"collection": [...]}`,
more tracks than asked, a track twice, ids that are not numbers (or a URN that disagrees
with the id), a track without a user, a `next_href` outside the API root or equal to the page
just read, permalinks with characters SoundCloud does not give. A 429 waits for the
`reset_time` SoundCloud puts in its error body (else `Retry-After`, else a minute).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from bridges.base import Creator, Credentials, Like, LikesPage
from bridges.errors import BadPayload, RateLimited, TokenExpired, TokenRevoked
from bridges.http import MAX_RETRY_AFTER, Fetched, check_uri, retry_after
from bridges.oauth2 import Endpoints, OAuth2Network, string
from bridges.rounds import STOP_IDS, each_once, number, one_line, refuse_expired

API = "https://api.soundcloud.com"
WEB = "https://soundcloud.com"
PAGE_SIZE = 50
MAX_PAGES_PER_ROUND = 50
PERMALINK_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
TRACK_URN = "soundcloud:tracks:"
USER_URN = "soundcloud:users:"
LIKES_PATH = "/me/likes/tracks"


def _id(value: object, what: str) -> str:
    """A numeric SoundCloud id (JSON number or digits)."""
    return number(value, what, "not an id we accept")


def _object_id(document: Mapping[str, object], prefix: str, what: str) -> str:
    """The numeric id of a track or user, from `id` or its URN (both must agree)."""
    urn = document.get("urn")
    from_urn = None
    if urn is not None:
        if not isinstance(urn, str) or not urn.startswith(prefix):
            raise BadPayload(f"{what}: not a URN we accept: {str(urn)[:80]!r}")
        from_urn = _id(urn.removeprefix(prefix), f"{what} urn")
    if document.get("id") is None:
        if from_urn is None:
            raise BadPayload(f"{what}: no id")
        return from_urn
    number = _id(document.get("id"), f"{what} id")
    if from_urn is not None and from_urn != number:
        raise BadPayload(f"{what}: urn {urn!r} and id {number} disagree")
    return number


def _ids(value: str, what: str) -> tuple[str, ...]:
    ids = tuple(value.split(","))
    if not 0 < len(ids) <= STOP_IDS:
        raise BadPayload(f"not a SoundCloud cursor: {what}")
    for item in ids:
        _id(item, f"cursor {what}")
    return ids


def reset_wait(body: bytes, headers: Mapping[str, str], now: datetime | None = None) -> float:
    """Seconds until SoundCloud's `errors[0].meta.reset_time` ("2026/12/07 09:49:40 +0000")
    in a 429 body; `Retry-After` (or a minute) when the body names none."""
    moment = now or datetime.now(UTC)
    try:
        document = json.loads(body[:65536])
        errors = document.get("errors") if isinstance(document, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        meta = first.get("meta") if isinstance(first, dict) else None
        reset = meta.get("reset_time") if isinstance(meta, dict) else None
        when = datetime.strptime(str(reset), "%Y/%m/%d %H:%M:%S %z")
    except (ValueError, RecursionError):
        return retry_after(headers, moment)
    return min(max((when - moment).total_seconds(), 1.0), MAX_RETRY_AFTER)


class SoundCloudNetwork(OAuth2Network):
    """SoundCloud, with the one app the admin registered (see the module doc)."""

    name = "soundcloud"
    label = "SoundCloud"
    endpoints = Endpoints(
        authorize="https://secure.soundcloud.com/authorize",
        token="https://secure.soundcloud.com/oauth/token",
        api=API,
    )
    pkce = True

    # --- reading the API with SoundCloud's header -----------------------------------------

    async def api_get(
        self,
        credentials: Credentials,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        accept: str = "application/json",
        expect: tuple[int, ...] = (200,),
    ) -> Fetched:
        """GET an API path (or a `next_href`) with `Authorization: OAuth <token>`."""
        refuse_expired(credentials, self.label)
        headers = {"Authorization": f"OAuth {credentials.access_token}"}
        try:
            fetched = await self.fetcher.get(
                self.api_url(path),
                params=params,
                accept=accept,
                expect=(*expect, 429),
                headers=headers,
            )
        except TokenRevoked as error:
            if credentials.refresh_token:
                raise TokenExpired(str(error)) from error
            raise
        if fetched.status == 429:
            wait = reset_wait(fetched.body, fetched.headers)
            raise RateLimited(f"{fetched.url} answered 429 (rate limited)", wait)
        return fetched

    # --- who -------------------------------------------------------------------------------

    def user_creator(self, user: object, where: str) -> Creator:
        if not isinstance(user, dict):
            raise BadPayload(f"{where}: no user")
        number = _object_id(user, USER_URN, where)
        permalink = string(user, "permalink")
        if not PERMALINK_RE.fullmatch(permalink):
            raise BadPayload(f"{where}: permalink refused {permalink[:80]!r}")
        return Creator(self.name, USER_URN + number, permalink, f"{WEB}/{permalink}")

    async def whoami(self, credentials: Credentials) -> Creator:
        """The connected account, from `/me`."""
        fetched = await self.api_get(credentials, "/me")
        return self.user_creator(fetched.json_object(), f"{fetched.url}")

    # --- likes -------------------------------------------------------------------------------

    def parse_track(self, track: object, where: str) -> Like:
        """A liked track as a Like (BadPayload when any part we need is wrong)."""
        if not isinstance(track, dict):
            raise BadPayload(f"{where}: not an object")
        number = _object_id(track, TRACK_URN, where)
        creator = self.user_creator(track.get("user"), f"{where} user")
        url = check_uri(f"{API}/tracks/{number}", f"{where} url")
        title = one_line(string(track, "title"))
        urn = TRACK_URN + number
        return Like(urn, urn, url, creator, title, None)

    def _cursor(self, cursor: str | None) -> dict[str, str]:
        if cursor is None:
            return {}
        try:
            query = parse_qs(cursor, strict_parsing=True)
        except ValueError as error:
            raise BadPayload(f"not a SoundCloud cursor: {cursor[:200]!r}") from error
        params = {name: values[-1] for name, values in query.items()}
        if set(params) - {"href", "newest", "pages", "stop"}:
            raise BadPayload(f"not a SoundCloud cursor: {cursor[:200]!r}")
        for name in ("newest", "stop"):
            if name in params:
                _ids(params[name], name)
        if "href" in params:
            if "newest" not in params or not params.get("pages", "").isdigit():
                raise BadPayload(f"not a SoundCloud cursor: {cursor[:200]!r}")
            if (
                urlsplit(self.api_url(params["href"])).path
                != urlsplit(self.api_url(LIKES_PATH)).path
            ):
                raise BadPayload(f"not a SoundCloud cursor: {cursor[:200]!r}")
        elif "stop" not in params:
            raise BadPayload(f"not a SoundCloud cursor: {cursor[:200]!r}")
        return params

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's liked tracks (see the module doc for the cursors)."""
        position = self._cursor(cursor)
        stop = set(_ids(position["stop"], "stop")) if "stop" in position else set()
        if "href" in position:
            fetched = await self.api_get(credentials, position["href"])
        else:
            params = {"linked_partitioning": "true", "limit": str(PAGE_SIZE)}
            fetched = await self.api_get(credentials, LIKES_PATH, params)
        tracks, next_href = self._page(fetched)
        likes: list[Like] = []
        reached = False
        for like in tracks:
            if like.item_id.removeprefix(TRACK_URN) in stop:
                reached = True
                break
            likes.append(like)
        if "newest" in position:
            newest = position["newest"]
        elif tracks:
            newest = ",".join(like.item_id.removeprefix(TRACK_URN) for like in tracks[:STOP_IDS])
        else:
            newest = position.get("stop", "")
        resume = urlencode({"stop": newest}) if newest else None
        pages = int(position.get("pages", "0")) + 1
        if reached or next_href is None or pages >= MAX_PAGES_PER_ROUND:
            truncated = not reached and next_href is not None
            return LikesPage(tuple(likes), None, resume, fetched.rate, truncated=truncated)
        following = {"href": next_href, "newest": newest, "pages": str(pages)}
        if "stop" in position:
            following["stop"] = position["stop"]
        return LikesPage(tuple(likes), urlencode(following), resume, fetched.rate)

    def _page(self, fetched: Fetched) -> tuple[list[Like], str | None]:
        document = fetched.json_object()
        collection = document.get("collection")
        if not isinstance(collection, list):
            raise BadPayload(f"{fetched.url}: no collection")
        if len(collection) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: {len(collection)} tracks for {PAGE_SIZE} asked")
        likes = each_once(collection, self.parse_track, fetched.url, "track")
        next_href = document.get("next_href")
        if next_href is None or next_href == "":
            return likes, None
        if not isinstance(next_href, str):
            raise BadPayload(f"{fetched.url}: next_href is not a string")
        check_uri(next_href, "next_href", self.config.allow_private)
        href = self.api_url(next_href)
        if urlsplit(href).path != urlsplit(fetched.url).path:
            raise BadPayload(f"{fetched.url}: next_href leads elsewhere: {href[:200]!r}")
        if parse_qs(urlsplit(href).query) == parse_qs(urlsplit(fetched.url).query):
            raise BadPayload(f"{fetched.url}: next_href does not move on")
        return likes, href

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A track by its URN (a Like's `item_id`), from `/tracks/<urn>`."""
        number = _id(item_id.removeprefix(TRACK_URN), "track id")
        if item_id != TRACK_URN + number:
            raise BadPayload(f"not a SoundCloud track URN: {item_id[:80]!r}")
        fetched = await self.api_get(credentials, f"/tracks/{TRACK_URN}{number}")
        like = self.parse_track(fetched.json_object(), fetched.url)
        if like.item_id != item_id:
            raise BadPayload(f"{fetched.url}: answered track {like.item_id}")
        return like
