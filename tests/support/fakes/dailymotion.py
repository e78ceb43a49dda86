"""A fake Dailymotion API: the OAuth code flow (the shared provider: secret in the form,
access tokens of ten hours with refresh tokens), `GET /me`, `GET /me/likes` (Dailymotion's
list: `page`, `limit`, `explicit`, `total`, `has_more`, `list`; sub-fields as flat keys,
`limit` up to 100, no page past the hundredth, most recent like first) and
`GET /video/{id}`, each answering only the `fields` asked. Payloads are the fixture files
under tests/data/bridges/dailymotion/ with their values changed.

Rate limit per token; over it Dailymotion's 403 with error type `rate_limit_exceeded`, or a
429 with `Retry-After` (`rate_status`). A token that no longer works answers 401 with
Dailymotion's error object.

Knobs (`Knobs`, or POST /_test/knobs): fail_5xx, malformed_json, oversized, not_list,
too_many, duplicate, bad_id, bad_owner, bad_username, missing_owner, has_more_forever (every
page says `has_more`, past the last), has_more_text (`"has_more": "yes"`), forbidden (a 403 of
another type).

Control API (JSON): POST /_test/like {"user", "owner"?} -> {"video_id", "owner_id"};
POST /_test/unlike {"user", "video_id"} -> {"removed"}; plus the provider's
/_test/authorize_as and /_test/token, and /_test/knobs, /_test/stats;
`DailymotionControl` from Python.
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import PageKnobs, failing, oversized, past_limit
from tests.support.fakes.oauth2 import OAuth2Provider
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int) -> str:
    text = ""
    while number:
        number, digit = divmod(number, 36)
        text = DIGITS[digit] + text
    return text or "0"


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 1000  # reads per token (no window: tests reset it by hand)
    rate_status: int = 403  # 403 rate_limit_exceeded, or 429 with Retry-After
    not_list: bool = False
    bad_id: bool = False
    bad_owner: bool = False
    bad_username: bool = False
    missing_owner: bool = False
    has_more_forever: bool = False
    has_more_text: bool = False
    forbidden: bool = False


@dataclass
class FakeDailymotion(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider("/oauth/authorize", "/oauth/token", expires_in=36000)
    )
    users: dict[str, str] = field(default_factory=dict)  # username -> id
    videos: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (owner, title)
    likes: dict[str, list[str]] = field(default_factory=dict)  # username -> ids, newest last
    used: dict[str, int] = field(default_factory=dict)  # token -> reads
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(36**5))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_user(self.provider.user)

    def add_user(self, username: str) -> str:
        with self._lock:
            if username not in self.users:
                self.users[username] = "x" + base36(next(self._ids))
                self.likes[username] = []
            return self.users[username]

    def like(self, user: str, owner: str = "atelier-mistral") -> dict[str, str]:
        self.add_user(user)
        owner_id = self.add_user(owner)
        with self._lock:
            item = "x" + base36(next(self._ids) * 7)
            self.videos[item] = (owner, f"Le mistral, prise {item}\t")
            self.likes[user].append(item)
        return {"video_id": item, "owner_id": owner_id}

    def unlike(self, user: str, item: str) -> bool:
        with self._lock:
            before = len(self.likes.get(user, []))
            self.likes[user] = [video for video in self.likes.get(user, []) if video != item]
            return len(self.likes[user]) < before

    def reset_usage(self) -> None:
        with self._lock:
            self.used.clear()

    # --- documents ----------------------------------------------------------------------

    def video_json(self, item: str, fields: list[str]) -> dict[str, Any]:
        template: dict[str, Any] = copy.deepcopy(load_json("bridges/dailymotion/likes_page.json"))
        document: dict[str, Any] = template["list"][0]
        owner, title = self.videos[item]
        document.update(
            {
                "id": item,
                "owner": self.users[owner],
                "owner.username": owner,
                "owner.url": f"https://www.dailymotion.com/{owner}",
                "title": title,
                "url": f"https://www.dailymotion.com/video/{item}",
            }
        )
        return {name: document[name] for name in fields if name in document}

    # --- the app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/me", self._me),
                Route("/me/likes", self._likes),
                Route("/video/{id}", self._video),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _error(self, status: int, name: str) -> JSONResponse:
        return JSONResponse(load_json(f"bridges/dailymotion/{name}.json"), status_code=status)

    def _authenticate(self, request: Request) -> str | Response:
        self.requests += 1
        if failing(self.knobs):
            return JSONResponse({"error": {"code": 500, "type": "server_error"}}, 500)
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            return self._error(401, "error_invalid_token")
        if self.knobs.forbidden:
            said = {
                "error": {"code": 403, "message": "Access forbidden.", "type": "access_forbidden"}
            }
            return JSONResponse(said, status_code=403)
        token = request.headers["authorization"].partition(" ")[2]
        with self._lock:
            self.used[token] = self.used.get(token, 0) + 1
            used = self.used[token]
        if past_limit(self, used, self.knobs.rate_limit):
            if self.knobs.rate_status == 429:
                said = {
                    "error": {
                        "code": 429,
                        "message": "Too many requests.",
                        "type": "rate_limit_exceeded",
                    }
                }
                return JSONResponse(said, status_code=429, headers={"Retry-After": "120"})
            return self._error(403, "error_rate_limit")
        return user

    def _fields(self, request: Request) -> list[str]:
        return [name for name in request.query_params.get("fields", "id").split(",") if name]

    async def _me(self, request: Request) -> Response:
        user = self._authenticate(request)
        if isinstance(user, Response):
            return user
        self.add_user(user)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/dailymotion/me.json"))
        document.update(
            id=self.users[user], username=user, url=f"https://www.dailymotion.com/{user}"
        )
        return JSONResponse(
            {name: document[name] for name in self._fields(request) if name in document}
        )

    async def _likes(self, request: Request) -> Response:
        user = self._authenticate(request)
        if isinstance(user, Response):
            return user
        query = request.query_params
        try:
            limit = int(query.get("limit", "10"))
            page = int(query.get("page", "1"))
        except ValueError:
            return self._error(400, "error_not_found")
        if not 1 <= limit <= 100 or not 1 <= page <= 100:
            said = {
                "error": {"code": 400, "message": "Invalid value.", "type": "invalid_parameter"}
            }
            return JSONResponse(said, status_code=400)
        with self._lock:
            newest_first = list(reversed(self.likes.get(user, [])))
        chosen = newest_first[(page - 1) * limit : page * limit]
        has_more = len(newest_first) > page * limit
        return self._likes_response(
            chosen, self._fields(request), limit, page, has_more, len(newest_first)
        )

    def _likes_response(
        self,
        chosen: list[str],
        fields: list[str],
        limit: int,
        page: int,
        has_more: bool,
        total: int,
    ) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'{"list": [{"id": "x', media_type="application/json")
        if knobs.oversized:
            return oversized(b"[", b"]")
        items = [self.video_json(item, fields) for item in chosen]
        if knobs.too_many and items:
            items = items * (limit + 1)
        if knobs.duplicate and items:
            items.append(copy.deepcopy(items[0]))
        if items and knobs.bad_id:
            items[0]["id"] = "../../admin"
        if items and knobs.bad_owner:
            items[0]["owner"] = "x1/../2"
        if items and knobs.bad_username:
            items[0]["owner.username"] = "<script>"
        if items and knobs.missing_owner:
            del items[0]["owner"]
        if knobs.not_list:
            return JSONResponse(items)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/dailymotion/likes_page.json"))
        more: object = has_more or knobs.has_more_forever
        if knobs.has_more_text:
            more = "yes"
        document.update(page=page, limit=limit, total=total, has_more=more, list=items)
        return JSONResponse(document)

    async def _video(self, request: Request) -> Response:
        user = self._authenticate(request)
        if isinstance(user, Response):
            return user
        item = request.path_params["id"]
        if item not in self.videos:
            return self._error(404, "error_not_found")
        return JSONResponse(self.video_json(item, self._fields(request)))

    # --- control API --------------------------------------------------------------------

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse(self.like(str(body["user"]), str(body.get("owner", "atelier-mistral"))))

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["user"]), str(body["video_id"]))})


class DailymotionControl(Control):
    """The control API from Python, over HTTP (a context manager: it keeps a connection)."""

    def like(self, user: str = "donor", owner: str = "atelier-mistral") -> dict[str, Any]:
        return self._post("like", {"user": user, "owner": owner})
