"""A fake Vimeo API: the OAuth code flow (the shared provider: Basic client auth, tokens
without expiry or refresh tokens), `GET /me`, `GET /me/likes` (Vimeo's collection: `data`,
`total`, `page`, `per_page`, `paging` with `next` as a path, newest like first, `per_page`
up to 100, `metadata.interactions.like.added_time`) and `GET /videos/{id}`. Answers only
clients that send `Accept: application/vnd.vimeo.*+json;version=3.4`. Payloads are the
fixture files under tests/data/bridges/vimeo/ with their values changed.

Rate limit per token (`X-RateLimit-Limit`, `-Remaining`, `-Reset` as an ISO time); over it,
429 with Vimeo's error body (error_code 9000). A token that no longer works answers 401 with
error_code 8003.

Knobs (`Knobs`, or POST /_test/knobs): fail_5xx, malformed_json, oversized, not_collection,
too_many, duplicate, bad_video_uri, bad_user_uri, missing_user, next_outside, next_stuck,
no_like_time (answers without `metadata.interactions`).

Control API (JSON): POST /_test/like {"user", "owner"?} -> {"video_id", "owner_id",
"added_time"}; POST /_test/unlike {"user", "video_id"} -> {"removed"}; plus the provider's
/_test/authorize_as and /_test/token, and /_test/knobs, /_test/stats;
`VimeoControl` from Python.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import (
    PageKnobs,
    Window,
    failing,
    oversized,
    page_of,
    past_limit,
    token_window,
)
from tests.support.fakes.oauth2 import OAuth2Provider
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

VERSION = "version=3.4"


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 250  # reads per token per window
    rate_window: float = 60.0
    not_collection: bool = False
    bad_video_uri: bool = False
    bad_user_uri: bool = False
    missing_user: bool = False
    next_outside: bool = False
    next_stuck: bool = False
    no_like_time: bool = False


@dataclass
class FakeVimeo(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider(
            "/oauth/authorize",
            "/oauth/access_token",
            client_auth="basic",
            token_fields={"app": {"name": "Likewise", "uri": "/apps/123456"}},
        )
    )
    users: dict[str, int] = field(default_factory=dict)  # name -> id
    videos: dict[int, str] = field(default_factory=dict)  # video id -> owner name
    likes: dict[str, list[tuple[int, datetime]]] = field(default_factory=dict)  # newest last
    usage: dict[str, Window] = field(default_factory=dict)
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(152_001))
    _clock: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_user(self.provider.user)

    def add_user(self, name: str) -> int:
        with self._lock:
            if name not in self.users:
                self.users[name] = next(self._ids)
                self.likes[name] = []
            return self.users[name]

    def like(self, user: str, owner: str = "rosalindqvist") -> dict[str, str]:
        """`user` likes a new video of `owner`, a minute after the last like."""
        self.add_user(user)
        owner_id = self.add_user(owner)
        with self._lock:
            video_id = 258_000_000 + next(self._ids)
            self.videos[video_id] = owner
            self._clock += timedelta(minutes=1)
            self.likes[user].append((video_id, self._clock))
        return {
            "video_id": str(video_id),
            "owner_id": str(owner_id),
            "added_time": self._clock.isoformat(),
        }

    def unlike(self, user: str, video_id: int) -> bool:
        with self._lock:
            before = len(self.likes.get(user, []))
            self.likes[user] = [item for item in self.likes.get(user, []) if item[0] != video_id]
            return len(self.likes[user]) < before

    # --- documents ----------------------------------------------------------------------

    def user_json(self, name: str) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/vimeo/user.json"))
        user_id = self.users[name]
        document.update(
            uri=f"/users/{user_id}", name=name.title(), link=f"https://vimeo.com/{name}"
        )
        return document

    def video_json(
        self, video_id: int, liked_by: str = "", added: datetime | None = None
    ) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/vimeo/video.json"))
        owner = self.videos[video_id]
        document.update(
            uri=f"/videos/{video_id}",
            name=f"Harbour film {video_id}\n",
            link=f"https://vimeo.com/{video_id}",
        )
        document["user"].update(
            uri=f"/users/{self.users[owner]}", name=owner.title(), link=f"https://vimeo.com/{owner}"
        )
        like = document["metadata"]["interactions"]["like"]
        if liked_by and added is not None:
            like.update(
                uri=f"/users/{self.users[liked_by]}/likes/{video_id}",
                added=True,
                added_time=added.isoformat(),
            )
        else:
            like.update(added=False, added_time=None)
        if self.knobs.no_like_time:
            del document["metadata"]["interactions"]
        return document

    # --- the app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/me", self._me),
                Route("/me/likes", self._likes),
                Route("/videos/{id}", self._video),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _rate_headers(self, response: Response, usage: Window) -> Response:
        reset = datetime.fromtimestamp(usage.start + self.knobs.rate_window, UTC)
        response.headers["X-RateLimit-Limit"] = str(self.knobs.rate_limit)
        remaining = max(self.knobs.rate_limit - usage.used, 0)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = reset.isoformat(timespec="seconds")
        return response

    def _authenticate(self, request: Request) -> tuple[str, Window] | Response:
        self.requests += 1
        if VERSION not in request.headers.get("accept", ""):
            return JSONResponse({"error": "the fake reads API version 3.4 only"}, 406)
        if failing(self.knobs):
            return JSONResponse({"error": "Something strange occurred."}, status_code=503)
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            said = load_json("bridges/vimeo/error_unauthenticated.json")
            return JSONResponse(said, status_code=401)
        token = request.headers["authorization"].partition(" ")[2]
        usage = token_window(self.usage, self._lock, token, time.time(), self.knobs.rate_window)
        if past_limit(self, usage.used, self.knobs.rate_limit):
            said = load_json("bridges/vimeo/error_rate_limit.json")
            return self._rate_headers(JSONResponse(said, status_code=429), usage)
        return user, usage

    async def _me(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        user, usage = found
        self.add_user(user)
        return self._rate_headers(JSONResponse(self.user_json(user)), usage)

    async def _likes(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        user, usage = found
        query = request.query_params
        try:
            per_page = min(max(int(query.get("per_page", "25")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            return JSONResponse({"error": "invalid parameter", "error_code": 2204}, 400)
        with self._lock:
            newest_first = list(reversed(self.likes.get(user, [])))
        chosen, last_page = page_of(newest_first, page, per_page)
        response = self._likes_response(user, chosen, len(newest_first), per_page, page, last_page)
        return self._rate_headers(response, usage)

    def _likes_response(
        self,
        user: str,
        chosen: list[tuple[int, datetime]],
        total: int,
        per_page: int,
        page: int,
        last_page: int,
    ) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'{"data": [{"uri": "/videos/', media_type="application/json")
        if knobs.oversized:
            return oversized(b"[", b"]")
        items = [self.video_json(video_id, user, added) for video_id, added in chosen]
        if knobs.too_many and items:
            items = items * (per_page + 1)
        if knobs.duplicate and items:
            items.append(copy.deepcopy(items[0]))
        if items and knobs.bad_video_uri:
            items[0]["uri"] = "/videos/../../admin"
        if items and knobs.bad_user_uri:
            items[0]["user"]["uri"] = "/users/../1"
        if items and knobs.missing_user:
            del items[0]["user"]
        if knobs.not_collection:
            return JSONResponse(items)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/vimeo/likes_page.json"))

        def path(number: int) -> str:
            return f"/me/likes?{urlencode({'page': number, 'per_page': per_page})}"

        following = None
        if page < last_page:
            following = path(page if knobs.next_stuck else page + 1)
            if knobs.next_outside:
                following = "https://evil.example" + following
        document.update(total=total, page=page, per_page=per_page, data=items)
        document["paging"].update(
            next=following,
            previous=path(page - 1) if page > 1 else None,
            first=path(1),
            last=path(last_page),
        )
        return JSONResponse(document)

    async def _video(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        _, usage = found
        try:
            video_id = int(request.path_params["id"])
        except ValueError:
            video_id = 0
        if video_id not in self.videos:
            said = {"error": "The requested video couldn't be found.", "error_code": 5000}
            return JSONResponse(said, status_code=404)
        return self._rate_headers(JSONResponse(self.video_json(video_id)), usage)

    # --- control API --------------------------------------------------------------------

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse(self.like(str(body["user"]), str(body.get("owner", "rosalindqvist"))))

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["user"]), int(body["video_id"]))})


class VimeoControl(Control):
    """The control API from Python, over HTTP (a context manager: it keeps a connection)."""

    def like(self, user: str = "donor", owner: str = "rosalindqvist") -> dict[str, Any]:
        return self._post("like", {"user": user, "owner": owner})
