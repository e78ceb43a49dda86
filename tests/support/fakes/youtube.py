"""A fake YouTube Data API v3 with Google's OAuth endpoints (the shared `OAuth2Provider` at
`/o/oauth2/v2/auth` and `/token`): `channels.list?mine=true` and `playlistItems.list` of each
account's liked-videos playlist ("LL"), newest first, 50 at most, with opaque page tokens.
Payloads are the fixture files under tests/data/bridges/youtube/ with their values changed;
errors are Google's `{"error": {"code", "message", "errors": [{"reason"}]}}`.

Knobs (`Knobs`, or POST /_test/knobs): a daily quota in units (403 `quotaExceeded` past it,
or `dailyLimitExceeded`), 403 `userRateLimitExceeded` for the next N calls, 5xx for the next
N calls, malformed JSON, an oversized page, more items than asked, a video twice, a video id
with a path trick, a page token that does not move, a 403 `insufficientPermissions`.

Control API (JSON): POST /_test/accounts {"user"} -> {"channel_id"}; POST /_test/like
{"user", "owner"?, "title"?} -> {"video_id", "item_id", "owner"}; POST /_test/unlike
{"user", "video_id"} -> {"removed"}; plus the provider's /_test/authorize_as and /_test/token,
/_test/knobs and /_test/stats.
"""

from __future__ import annotations

import base64
import copy
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import PageKnobs, failing, oversized, past_limit
from tests.support.fakes.oauth2 import OAuth2Provider
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

ALPHABET = string.ascii_letters + string.digits + "-_"
START = datetime(2026, 12, 1, tzinfo=UTC)


def made_id(prefix: str, number: int, length: int) -> str:
    """A deterministic id of YouTube's alphabet: `prefix` then `number` in base 64."""
    digits = ""
    while number or not digits:
        number, rest = divmod(number, 64)
        digits = ALPHABET[rest] + digits
    return prefix + digits.rjust(length - len(prefix), "A")


def google_error(status: int, reason: str, message: str, domain: str = "global") -> Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return JSONResponse(body, status_code=status)


@dataclass
class Knobs(PageKnobs):
    quota: int = 10_000  # units a day for the whole project
    daily_limit: bool = False  # past the quota, answer dailyLimitExceeded instead
    throttle: int = 0  # the next N calls answer 403 userRateLimitExceeded
    path_trick: bool = False
    stuck_token: bool = False  # nextPageToken is the token just used
    forbidden: bool = False  # 403 insufficientPermissions


@dataclass
class Liked:
    item_id: str
    video_id: str
    owner: str  # channel id; "" for a deleted video (no owner in the answer)
    owner_title: str
    title: str
    added: datetime


@dataclass
class FakeYoutube(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider(
            "/o/oauth2/v2/auth", "/token", expires_in=3599, pkce_required=True
        )
    )
    channels: dict[str, str] = field(default_factory=dict)  # user -> channel id
    likes: dict[str, list[Liked]] = field(default_factory=dict)  # user -> newest first
    units: int = 0
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_account("donor")

    # --- state --------------------------------------------------------------------------

    def _next(self) -> int:
        self._count += 1
        return self._count

    def add_account(self, user: str) -> str:
        with self._lock:
            if user not in self.channels:
                self.channels[user] = made_id("UC", 1000 + self._next(), 24)
                self.likes[user] = []
            return self.channels[user]

    def like(self, user: str, owner: str = "", title: str = "") -> Liked:
        """A new video liked by `user` (the newest like); `owner` "" makes a new channel,
        "-" a video without owner (deleted)."""
        self.add_account(user)
        with self._lock:
            number = self._next()
            if not owner:
                owner = made_id("UC", 500_000 + number, 24)
            liked = Liked(
                made_id("TExM", 9_000_000 + number, 40),
                made_id("", 77_000_000 + number, 11),
                "" if owner == "-" else owner,
                f"Channel {number}",
                title or f"Video {number}",
                START + timedelta(minutes=number),
            )
            self.likes[user].insert(0, liked)
        return liked

    def unlike(self, user: str, video_id: str) -> bool:
        with self._lock:
            before = len(self.likes.get(user, []))
            self.likes[user] = [x for x in self.likes.get(user, []) if x.video_id != video_id]
            return len(self.likes[user]) < before

    # --- the app ------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/youtube/v3/channels", self._channels),
                Route("/youtube/v3/playlistItems", self._playlist_items),
                Route("/_test/accounts", self._control_account, methods=["POST"]),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _gate(self, request: Request) -> str | Response:
        """The account of the request, or Google's answer instead (401, 403, 503)."""
        self.requests += 1
        knobs = self.knobs
        if failing(knobs):
            return google_error(503, "backendError", "Backend Error")
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            fixture = load_json("bridges/youtube/error_auth.json")
            response = JSONResponse(fixture, status_code=401)
            expired = b"expired" in bytes(user.body)
            said = "The access token expired" if expired else "Invalid Credentials"
            response.headers["WWW-Authenticate"] = (
                f'Bearer realm="https://accounts.google.com/", error="invalid_token", '
                f'error_description="{said}"'
            )
            return response
        if knobs.forbidden:
            fixture = load_json("bridges/youtube/error_forbidden.json")
            return JSONResponse(fixture, status_code=403)
        if knobs.throttle > 0:
            knobs.throttle -= 1
            self.rate_limited += 1
            return google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded")
        if past_limit(self, self.units + 1, knobs.quota):
            self.units += 1
            if knobs.daily_limit:
                return google_error(
                    403, "dailyLimitExceeded", "Daily Limit Exceeded", "usageLimits"
                )
            return JSONResponse(load_json("bridges/youtube/error_quota.json"), status_code=403)
        self.units += 1
        return user

    async def _channels(self, request: Request) -> Response:
        user = self._gate(request)
        if isinstance(user, Response):
            return user
        if request.query_params.get("mine") != "true":
            return google_error(400, "missingRequiredParameter", "No filter selected.")
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/youtube/channels_list.json"))
        channel = document["items"][0]
        channel_id = self.channels[user]
        channel["id"] = channel_id
        channel["snippet"]["title"] = channel["snippet"]["localized"]["title"] = user.title()
        channel["contentDetails"]["relatedPlaylists"]["uploads"] = "UU" + channel_id[2:]
        return JSONResponse(document)

    def _item(self, liked: Liked, position: int) -> dict[str, Any]:
        template = load_json("bridges/youtube/playlist_items_list.json")["items"][0]
        item: dict[str, Any] = copy.deepcopy(template)
        snippet = item["snippet"]
        snippet.update(
            publishedAt=liked.added.isoformat().replace("+00:00", "Z"),
            title=liked.title,
            position=position,
            videoOwnerChannelId=liked.owner,
            videoOwnerChannelTitle=liked.owner_title,
        )
        snippet["resourceId"]["videoId"] = liked.video_id
        if not liked.owner:
            del snippet["videoOwnerChannelId"], snippet["videoOwnerChannelTitle"]
            snippet["title"] = "Deleted video"
        item["id"] = liked.item_id
        item["contentDetails"]["videoId"] = liked.video_id
        return item

    async def _playlist_items(self, request: Request) -> Response:
        user = self._gate(request)
        if isinstance(user, Response):
            return user
        query = request.query_params
        if query.get("playlistId") != "LL":
            return google_error(404, "playlistNotFound", "The playlist cannot be found.")
        try:
            size = min(max(int(query.get("maxResults", "5")), 0), 50)
        except ValueError:
            return google_error(400, "invalidParameter", "Invalid value for maxResults")
        liked = list(self.likes.get(user, []))
        if "videoId" in query:
            liked = [x for x in liked if x.video_id == query["videoId"]]
        token = query.get("pageToken", "")
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token + "==").decode().removeprefix("at:"))
            except (ValueError, UnicodeDecodeError):
                return google_error(400, "invalidPageToken", "The page token is invalid.")
        page = liked[start : start + size]
        return self._page_response(page, start, size, len(liked), token)

    def _page_response(
        self, page: list[Liked], start: int, size: int, total: int, token: str
    ) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'{"items": [{"id": ', media_type="application/json")
        if knobs.oversized:
            return oversized(b'{"items": [', b"]}", media_type=None)
        document: dict[str, Any] = copy.deepcopy(
            load_json("bridges/youtube/playlist_items_list.json")
        )
        items = [self._item(liked, start + index) for index, liked in enumerate(page)]
        if knobs.too_many and items:
            items = [copy.deepcopy(items[0]) for _ in range(size + 1)]
        if knobs.duplicate and len(items) > 1:
            items[1] = copy.deepcopy(items[0])
        if knobs.path_trick and items:
            items[0]["snippet"]["resourceId"]["videoId"] = "../../admin"
        document["items"] = items
        document["pageInfo"] = {"totalResults": total, "resultsPerPage": size}
        if start + size < total:
            following = base64.urlsafe_b64encode(f"at:{start + size}".encode()).decode()
            document["nextPageToken"] = following.rstrip("=")
        else:
            del document["nextPageToken"]
        if knobs.stuck_token and token:
            document["nextPageToken"] = token
        if start:
            document["prevPageToken"] = token
        return JSONResponse(document)

    # --- control ------------------------------------------------------------------------

    async def _control_account(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"channel_id": self.add_account(str(body["user"]))})

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        liked = self.like(str(body["user"]), str(body.get("owner", "")), str(body.get("title", "")))
        return JSONResponse(
            {"video_id": liked.video_id, "item_id": liked.item_id, "owner": liked.owner}
        )

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["user"]), str(body["video_id"]))})


class YoutubeControl(Control):
    """The fake's control API over HTTP (a context manager: it keeps a connection)."""

    def add_account(self, user: str) -> str:
        return str(self._post("accounts", {"user": user})["channel_id"])

    def like(self, user: str = "donor", owner: str = "", title: str = "") -> dict[str, Any]:
        return self._post("like", {"user": user, "owner": owner, "title": title})

    def unlike(self, user: str, video_id: str) -> bool:
        return bool(self._post("unlike", {"user": user, "video_id": video_id})["removed"])
