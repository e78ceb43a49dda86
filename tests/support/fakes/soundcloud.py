"""A fake SoundCloud: the OAuth 2.1 side (the shared `OAuth2Provider`: `/authorize` with PKCE
required, `/oauth/token` with one-hour tokens and single-use refresh tokens), `GET /me`,
`GET /me/likes/tracks` with linked partitioning (`{"collection", "next_href"}`, newest like
first, an opaque `cursor` in `next_href`, 50 by default, 200 at most) and `GET /tracks/<urn>`.
Payloads are the fixture files under tests/data/bridges/soundcloud/ with their values changed.
The API takes `Authorization: OAuth <token>` (and `Bearer`, as SoundCloud does today); the
schemes it saw are kept in `schemes`.

Knobs (`Knobs`, or POST /_test/knobs): a rate limit per token (429 with SoundCloud's error
body and its `reset_time`; SoundCloud sends no rate headers), 5xx for the next N requests,
malformed JSON, an oversized page, more tracks than asked, a track twice, an id with a path
trick, a track without user, a `next_href` to another host or to the page just read, an
endless list, a delay.

Control API (JSON): POST /_test/like {"user", "author"?, "title"?} -> {"track_id", "urn"};
POST /_test/unlike {"user", "track_id"} -> {"removed"}; POST /_test/authorize_as {"user"} and
POST /_test/token {"user", "state"} (the provider's); POST /_test/knobs; GET /_test/stats.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import PageKnobs, Window, failing, oversized, past_limit
from tests.support.fakes.oauth2 import OAuth2Provider
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 300  # requests per token per window
    rate_window: float = 300.0
    path_trick: bool = False  # the first track's id is "../../me"
    missing_user: bool = False  # the first track has no user
    next_outside: bool = False  # next_href on another host
    next_loop: bool = False  # next_href is the page just read
    endless: bool = False  # every page full, with a next_href, forever
    delay: float = 0.0


@dataclass
class FakeSoundCloud(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider(
            "/authorize", "/oauth/token", pkce_required=True, expires_in=3600
        )
    )
    users: dict[str, int] = field(default_factory=dict)  # permalink -> id
    tracks: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (author, title)
    likes: dict[str, dict[int, int]] = field(default_factory=dict)  # user: seq -> track id
    windows: dict[str, Window] = field(default_factory=dict)
    schemes: set[str] = field(default_factory=set)
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _next: int = 3000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    # --- state --------------------------------------------------------------------------

    def add_user(self, permalink: str) -> int:
        with self._lock:
            if permalink not in self.users:
                self._next += 1
                self.users[permalink] = self._next
                self.likes[permalink] = {}
            return self.users[permalink]

    def like(self, user: str = "donor", author: str = "harbour-sounds", title: str = "") -> int:
        """A new track by `author`, liked by `user` (its newest like); the track's id."""
        self.add_user(user)
        self.add_user(author)
        with self._lock:
            self._next += 1
            track_id = 1_200_000_000 + self._next
            self.tracks[track_id] = (author, title or f"Track {track_id}")
            self._next += 1
            self.likes[user][self._next] = track_id
        return track_id

    def unlike(self, user: str, track_id: int) -> bool:
        with self._lock:
            found = [seq for seq, tid in self.likes.get(user, {}).items() if tid == track_id]
            for seq in found:
                del self.likes[user][seq]
            return bool(found)

    # --- documents ----------------------------------------------------------------------

    def user_json(self, permalink: str, document: dict[str, Any]) -> dict[str, Any]:
        user_id = self.users.get(permalink) or self.add_user(permalink)
        document.update(
            id=user_id,
            urn=f"soundcloud:users:{user_id}",
            permalink=permalink,
            username=permalink.replace("-", " ").title(),
            permalink_url=f"https://soundcloud.com/{permalink}",
            uri=f"https://api.soundcloud.com/users/soundcloud:users:{user_id}",
        )
        return document

    def track_json(self, track_id: int) -> dict[str, Any]:
        author, title = self.tracks.get(track_id, ("harbour-sounds", f"Track {track_id}"))
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/soundcloud/track.json"))
        urn = f"soundcloud:tracks:{track_id}"
        document.update(
            id=track_id,
            urn=urn,
            title=title,
            uri=f"https://api.soundcloud.com/tracks/{urn}",
            permalink_url=f"https://soundcloud.com/{author}/track-{track_id}",
            stream_url=f"https://api.soundcloud.com/tracks/{urn}/stream",
        )
        self.user_json(author, document["user"])
        return document

    # --- the app ------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/me", self._me),
                Route("/me/likes/tracks", self._likes),
                Route("/tracks/{urn}", self._track),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _authenticate(self, request: Request) -> str | Response:
        """The request's user, or the answer to give instead (503, 401, 429)."""
        self.requests += 1
        if failing(self.knobs):
            return JSONResponse({"code": 503, "message": "Service Unavailable"}, 503)
        scheme = request.headers.get("authorization", "").partition(" ")[0]
        self.schemes.add(scheme)
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            return user
        now = time.time()
        token = request.headers["authorization"].partition(" ")[2]
        with self._lock:
            window = self.windows.setdefault(token, Window(now))
            used = window.count(now, self.knobs.rate_window)
            over = past_limit(self, used, self.knobs.rate_limit)
        if over:
            body: dict[str, Any] = copy.deepcopy(load_json("bridges/soundcloud/rate_limited.json"))
            reset = datetime.fromtimestamp(window.start + self.knobs.rate_window, UTC)
            body["errors"][0]["meta"]["reset_time"] = reset.strftime("%Y/%m/%d %H:%M:%S +0000")
            return JSONResponse(body, status_code=429)
        self.add_user(user)
        return user

    async def _me(self, request: Request) -> Response:
        user = self._authenticate(request)
        if isinstance(user, Response):
            return user
        document = copy.deepcopy(load_json("bridges/soundcloud/me.json"))
        return JSONResponse(self.user_json(user, document))

    async def _track(self, request: Request) -> Response:
        user = self._authenticate(request)
        if isinstance(user, Response):
            return user
        number = str(request.path_params["urn"]).removeprefix("soundcloud:tracks:")
        if not number.isdigit() or int(number) not in self.tracks:
            return JSONResponse({"code": 404, "message": "404 - Not Found"}, status_code=404)
        return JSONResponse(self.track_json(int(number)))

    async def _likes(self, request: Request) -> Response:
        user = self._authenticate(request)
        if isinstance(user, Response):
            return user
        if self.knobs.delay:
            await asyncio.sleep(self.knobs.delay)
        query = request.query_params
        try:
            limit = min(int(query.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            cursor = int(query["cursor"]) if "cursor" in query else None
        except ValueError:
            return JSONResponse({"code": 400, "message": "Bad Request"}, status_code=400)
        with self._lock:
            ordered = sorted(self.likes[user].items(), reverse=True)
        if cursor is not None:
            ordered = [(seq, tid) for seq, tid in ordered if seq < cursor]
        page = ordered[:limit]
        more = len(ordered) > limit
        if self.knobs.endless:
            top = cursor or 10**9
            page = [(top - 1 - index, 1_100_000_000 + top - index) for index in range(limit)]
            more = True
        return self._page(page, limit, more, cursor, query.get("linked_partitioning"))

    def _page(
        self,
        page: list[tuple[int, int]],
        limit: int,
        more: bool,
        cursor: int | None,
        linked: str | None,
    ) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'{"collection": [{"id": ', media_type="application/json")
        if knobs.oversized:
            return oversized(b'{"collection": [', b"]}")
        collection = [self.track_json(track_id) for _, track_id in page]
        if knobs.too_many and collection:
            extra = len(collection)
            collection += [self.track_json(1_000_000 + n) for n in range(limit + 1 - extra)]
        if knobs.duplicate and collection:
            collection[-1] = copy.deepcopy(collection[0])
        if knobs.path_trick and collection:
            collection[0]["id"] = "../../me"
            del collection[0]["urn"]
        if knobs.missing_user and collection:
            del collection[0]["user"]
        if linked not in ("true", "1"):
            return JSONResponse(collection)  # without linked partitioning: a bare array
        next_href = None
        if more and page:
            origin = "https://evil.example" if knobs.next_outside else self.base
            params: dict[str, object] = {"linked_partitioning": "true", "limit": limit}
            if not knobs.next_loop:
                params["cursor"] = page[-1][0]
            elif cursor is not None:
                params["cursor"] = cursor
            next_href = f"{origin}/me/likes/tracks?{urlencode(params)}"
        return JSONResponse({"collection": collection, "next_href": next_href})

    # --- control ------------------------------------------------------------------------

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        track_id = self.like(
            str(body.get("user", "donor")),
            str(body.get("author", "harbour-sounds")),
            str(body.get("title", "")),
        )
        return JSONResponse({"track_id": track_id, "urn": f"soundcloud:tracks:{track_id}"})

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["user"]), int(body["track_id"]))})


class SoundCloudControl(Control):
    """The control API from Python, over HTTP (a context manager: it keeps a connection)."""

    def like(self, user: str = "donor", author: str = "harbour-sounds", title: str = "") -> int:
        return int(self._post("like", {"user": user, "author": author, "title": title})["track_id"])

    def unlike(self, user: str, track_id: int) -> bool:
        return bool(self._post("unlike", {"user": user, "track_id": track_id})["removed"])

    def token(self, user: str, state: str) -> int:
        return int(self._post("token", {"user": user, "state": state})["changed"])
