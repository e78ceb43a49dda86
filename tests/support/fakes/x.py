"""A fake X API v2 with X's OAuth 2 endpoints (the shared `OAuth2Provider` at
`/i/oauth2/authorize` and `/2/oauth2/token`, PKCE required, HTTP Basic client auth, two-hour
tokens with refresh tokens): `GET /2/users/me`, `GET /2/users/<id>/liked_tweets` (newest
like first, `meta.next_token`, `includes.users` for `expansions=author_id`) and
`GET /2/tweets/<id>`. Payloads are the fixture files under tests/data/bridges/x/ with their
values changed; errors are X's problem documents (`{"title", "detail", "type"}`), 429 with
`x-rate-limit-limit`, `-remaining` and `-reset` (Unix seconds) as X sends them on every answer.

Knobs (`Knobs`, or POST /_test/knobs): a rate limit per token and window (429 over it), X's
monthly usage cap (429 `usage-capped` once `cap` reads are made), 5xx for the next N reads,
malformed JSON, an oversized page, more posts than asked, a post twice, an author missing
from `includes`, an id with a path trick, a next token that does not move.

Control API (JSON): POST /_test/accounts {"user"} -> {"id"}; POST /_test/like {"user",
"author"?} -> {"post_id", "author_id", "author"}; POST /_test/unlike {"user", "post_id"} ->
{"removed"}; the provider's /_test/authorize_as and /_test/token; /_test/knobs, /_test/stats.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import (
    PageKnobs,
    Window,
    failing,
    oversized,
    past_limit,
    token_window,
)
from tests.support.fakes.oauth2 import OAuth2Provider
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json


def problem(name: str, status: int) -> Response:
    return JSONResponse(
        load_json(f"bridges/x/{name}.json"),
        status_code=status,
        media_type="application/problem+json",
    )


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 75  # reads per token per window (liked_tweets: 75 / 15 min)
    rate_window: float = 900.0
    cap: int = 1_000_000  # X's monthly usage cap for the project
    missing_author: bool = False
    path_trick: bool = False
    stuck_token: bool = False


@dataclass
class Post:
    id: int
    author: str  # username
    text: str


@dataclass
class FakeX(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider(
            "/i/oauth2/authorize",
            "/2/oauth2/token",
            pkce_required=True,
            client_auth="basic",
            expires_in=7200,
        )
    )
    users: dict[str, int] = field(default_factory=dict)  # username -> id
    posts: dict[int, Post] = field(default_factory=dict)
    likes: dict[str, list[int]] = field(default_factory=dict)  # username -> post ids, newest first
    windows: dict[str, Window] = field(default_factory=dict)  # per token
    reads: int = 0
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_account("donor")

    # --- state --------------------------------------------------------------------------

    def add_account(self, username: str) -> int:
        with self._lock:
            if username not in self.users:
                self._count += 1
                self.users[username] = 1_034_147_441_123_192_832 + self._count
                self.likes[username] = []
            return self.users[username]

    def like(self, username: str, author: str = "") -> Post:
        """A new post by `author` (a new account when ""), liked by `username` (newest)."""
        self.add_account(username)
        with self._lock:
            self._count += 1
            author = author or f"author{self._count}"
        self.add_account(author)
        with self._lock:
            post = Post(1_362_449_997_430_542_337 + self._count, author, f"post {self._count}")
            self.posts[post.id] = post
            self.likes[username].insert(0, post.id)
        return post

    def unlike(self, username: str, post_id: int) -> bool:
        with self._lock:
            if post_id not in self.likes.get(username, []):
                return False
            self.likes[username].remove(post_id)
            return True

    # --- the app ------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/2/users/me", self._me),
                Route("/2/users/{id}/liked_tweets", self._liked_tweets),
                Route("/2/tweets/{id}", self._tweet),
                Route("/_test/accounts", self._control_account, methods=["POST"]),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _gate(self, request: Request) -> tuple[str, Window] | Response:
        """The reader's username and rate window, or X's answer instead (401, 429, 503)."""
        self.requests += 1
        knobs = self.knobs
        if failing(knobs):
            return JSONResponse({"title": "Service Unavailable"}, status_code=503)
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            answer = problem("problem_unauthorized", 401)
            if b"expired" in bytes(user.body):
                answer.headers["WWW-Authenticate"] = 'Bearer error="invalid_token", expired'
            return answer
        token = request.headers["authorization"].partition(" ")[2]
        window = token_window(self.windows, self._lock, token, time.time(), knobs.rate_window)
        if self.reads >= knobs.cap:
            self.rate_limited += 1
            return problem("problem_usage_capped", 429)
        if past_limit(self, window.used, knobs.rate_limit):
            answer = problem("problem_too_many_requests", 429)
            self._rate_headers(answer, window)
            return answer
        self.reads += 1
        return user, window

    def _rate_headers(self, response: Response, window: Window) -> None:
        response.headers["x-rate-limit-limit"] = str(self.knobs.rate_limit)
        remaining = max(self.knobs.rate_limit - window.used, 0)
        response.headers["x-rate-limit-remaining"] = str(remaining)
        response.headers["x-rate-limit-reset"] = str(int(window.start + self.knobs.rate_window))

    def _user(self, username: str) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/x/users_me.json")["data"])
        document.update(id=str(self.users[username]), name=username.title(), username=username)
        return document

    def _post(self, post: Post) -> dict[str, Any]:
        template = load_json("bridges/x/liked_tweets.json")["data"][0]
        document: dict[str, Any] = copy.deepcopy(template)
        document.update(
            id=str(post.id),
            text=post.text,
            author_id=str(self.users[post.author]),
            edit_history_tweet_ids=[str(post.id)],
        )
        return document

    async def _me(self, request: Request) -> Response:
        gate = self._gate(request)
        if isinstance(gate, Response):
            return gate
        username, window = gate
        response = JSONResponse({"data": self._user(username)})
        self._rate_headers(response, window)
        return response

    async def _liked_tweets(self, request: Request) -> Response:
        gate = self._gate(request)
        if isinstance(gate, Response):
            return gate
        username, window = gate
        if request.path_params["id"] != str(self.users[username]):
            return JSONResponse(
                {"title": "Forbidden", "detail": "not your likes", "type": "about:blank"},
                status_code=403,
            )
        query = request.query_params
        try:
            size = min(max(int(query.get("max_results", "100")), 5), 100)
            start = parse_base36(query.get("pagination_token", ""))
        except ValueError:
            return JSONResponse(
                {"title": "Invalid Request", "detail": "bad parameter", "type": "about:blank"},
                status_code=400,
            )
        liked = list(self.likes[username])
        page = [self.posts[post_id] for post_id in liked[start : start + size]]
        response = self._page(page, size, start, len(liked), query.get("pagination_token", ""))
        self._rate_headers(response, window)
        return response

    def _page(self, page: list[Post], size: int, start: int, total: int, token: str) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'{"data": [{"id": ', media_type="application/json")
        if knobs.oversized:
            return oversized(b'{"data": [', b"]}", media_type=None)
        if not page:
            return JSONResponse({"meta": {"result_count": 0}})
        data = [self._post(post) for post in page]
        authors = {post.author: self._user(post.author) for post in page}
        if knobs.too_many:
            data = [copy.deepcopy(data[0]) for _ in range(size + 1)]
        if knobs.duplicate and len(data) > 1:
            data[1] = copy.deepcopy(data[0])
        if knobs.missing_author:
            del authors[page[0].author]
        if knobs.path_trick:
            data[0]["id"] = "../../admin"
        meta: dict[str, Any] = {"result_count": len(data)}
        if start + size < total:
            meta["next_token"] = format_base36(start + size)
        if knobs.stuck_token and token:
            meta["next_token"] = token
        if start:
            meta["previous_token"] = token
        document = {"data": data, "includes": {"users": list(authors.values())}, "meta": meta}
        return JSONResponse(document)

    async def _tweet(self, request: Request) -> Response:
        gate = self._gate(request)
        if isinstance(gate, Response):
            return gate
        try:
            post = self.posts.get(int(request.path_params["id"]))
        except ValueError:
            post = None
        if post is None:
            return JSONResponse(load_json("bridges/x/problem_not_found.json"))
        return JSONResponse(
            {"data": self._post(post), "includes": {"users": [self._user(post.author)]}}
        )

    # --- control ------------------------------------------------------------------------

    async def _control_account(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"id": str(self.add_account(str(body["user"])))})

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        post = self.like(str(body["user"]), str(body.get("author", "")))
        author_id = str(self.users[post.author])
        return JSONResponse(
            {"post_id": str(post.id), "author_id": author_id, "author": post.author}
        )

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["user"]), int(body["post_id"]))})


TOKEN_PREFIX = "7140dibdnow9c7b"


def format_base36(number: int) -> str:
    """X's next tokens are opaque strings of lower-case letters and digits."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number or not text:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return TOKEN_PREFIX + text


def parse_base36(token: str) -> int:
    if not token:
        return 0
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError(token)
    return int(token.removeprefix(TOKEN_PREFIX), 36)


class XControl(Control):
    """The fake's control API over HTTP (a context manager: it keeps a connection)."""

    def add_account(self, user: str) -> str:
        return str(self._post("accounts", {"user": user})["id"])

    def like(self, user: str = "donor", author: str = "") -> dict[str, Any]:
        return self._post("like", {"user": user, "author": author})

    def unlike(self, user: str, post_id: str) -> bool:
        return bool(self._post("unlike", {"user": user, "post_id": post_id})["removed"])
