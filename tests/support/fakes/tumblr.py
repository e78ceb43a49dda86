"""A fake Tumblr API v2 with Tumblr's OAuth 2 endpoints (the shared `OAuth2Provider` at
`/oauth2/authorize` and `/v2/oauth2/token`: client secret in the form, no PKCE, tokens of
2520 s with refresh tokens): `GET /v2/user/info` (the user's blogs, the first one primary)
and `GET /v2/user/likes` (newest like first, 20 at most, `before`/`after` in Unix seconds,
`_links.next` while more wait). Payloads are the fixture files under
tests/data/bridges/tumblr/ with their values changed; errors are Tumblr's
`{"meta": {"status", "msg"}, "response": [], "errors": [...]}`.

Knobs (`Knobs`, or POST /_test/knobs): an hourly rate limit per app (429 "Limit Exceeded"
with X-Ratelimit-Perhour-* headers), 5xx for the next N calls, malformed JSON, an oversized
page, more posts than asked, a post twice, a blog name with a path trick, a `_links.next`
outside the API, likes out of order.

Control API (JSON): POST /_test/accounts {"user", "blogs"?: [names]} -> {"blogs": [uuids]};
POST /_test/like {"user", "blog"?, "at"?} -> {"post_id", "blog", "uuid", "at"}; POST
/_test/unlike {"user", "post_id"}; the provider's /_test/authorize_as and /_test/token;
/_test/knobs, /_test/stats.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import PageKnobs, Window, failing, oversized, past_limit
from tests.support.fakes.oauth2 import OAuth2Provider
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

START = 1_733_000_000


def blog_uuid(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()[:16]
    return "t:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def tumblr_error(name: str, status: int) -> Response:
    return JSONResponse(load_json(f"bridges/tumblr/{name}.json"), status_code=status)


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 1000  # calls an hour for the app
    rate_window: float = 3600.0
    path_trick: bool = False
    foreign_next: bool = False
    out_of_order: bool = False


@dataclass
class Post:
    id: int
    blog: str
    liked_at: int


@dataclass
class Account:
    blogs: list[str]  # the first is primary
    member_of: list[str] = field(default_factory=list)  # group blogs: may post, not admin


@dataclass
class FakeTumblr(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider(
            "/oauth2/authorize", "/v2/oauth2/token", expires_in=2520
        )
    )
    accounts: dict[str, Account] = field(default_factory=dict)
    likes: dict[str, list[Post]] = field(default_factory=dict)  # user -> newest first
    window: Window = field(default_factory=Window)  # the app's (per consumer key)
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_account("donor")

    # --- state --------------------------------------------------------------------------

    def add_account(self, user: str, blogs: list[str] | None = None) -> list[str]:
        with self._lock:
            if user not in self.accounts:
                self.accounts[user] = Account(blogs or [user])
                self.likes[user] = []
            return [blog_uuid(name) for name in self.accounts[user].blogs]

    def like(self, user: str, blog: str = "", at: int = 0) -> Post:
        """A new post of `blog` (a new one when ""), liked by `user` at `at` (default: a
        minute after the newest like)."""
        self.add_account(user)
        with self._lock:
            self._count += 1
            newest = self.likes[user][0].liked_at if self.likes[user] else START
            post = Post(
                748_263_675_498_103_358 + self._count,
                blog or f"blog-{self._count}",
                at or newest + 60,
            )
            self.likes[user].append(post)
            self.likes[user].sort(key=lambda p: (p.liked_at, p.id), reverse=True)
        return post

    def unlike(self, user: str, post_id: int) -> bool:
        with self._lock:
            before = len(self.likes.get(user, []))
            self.likes[user] = [p for p in self.likes.get(user, []) if p.id != post_id]
            return len(self.likes[user]) < before

    # --- the app ------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/v2/user/info", self._user_info),
                Route("/v2/user/likes", self._user_likes),
                Route("/_test/accounts", self._control_account, methods=["POST"]),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _gate(self, request: Request) -> str | Response:
        self.requests += 1
        knobs = self.knobs
        if failing(knobs):
            return tumblr_error("error_server", 503)
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            answer = tumblr_error("error_unauthorized", 401)
            if b"expired" in bytes(user.body):
                answer.headers["WWW-Authenticate"] = 'Bearer error="invalid_token", expired'
            return answer
        now = time.time()
        with self._lock:
            self.window.count(now, knobs.rate_window)
        if past_limit(self, self.window.used, knobs.rate_limit):
            answer = tumblr_error("error_limit_exceeded", 429)
            self._rate_headers(answer)
            return answer
        return user

    def _rate_headers(self, response: Response) -> None:
        reset = int(self.window.start + self.knobs.rate_window - time.time())
        remaining = max(self.knobs.rate_limit - self.window.used, 0)
        response.headers["X-Ratelimit-Perhour-Limit"] = str(self.knobs.rate_limit)
        response.headers["X-Ratelimit-Perhour-Remaining"] = str(remaining)
        response.headers["X-Ratelimit-Perhour-Reset"] = str(max(reset, 0))
        response.headers["X-Ratelimit-Perday-Limit"] = "5000"
        response.headers["X-Ratelimit-Perday-Remaining"] = "4000"
        response.headers["X-Ratelimit-Perday-Reset"] = "80000"

    async def _user_info(self, request: Request) -> Response:
        user = self._gate(request)
        if isinstance(user, Response):
            return user
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/tumblr/user_info.json"))
        template = document["response"]["user"]["blogs"][0]
        account = self.accounts[user]
        blogs = []
        for index, name in enumerate(account.blogs + account.member_of):
            blog = copy.deepcopy(template)
            owned = name in account.blogs
            blog.update(
                name=name,
                title=name.title(),
                url=f"https://{name}.tumblr.com/",
                uuid=blog_uuid(name),
                primary=index == 0,
                admin=owned,
            )
            blogs.append(blog)
        document["response"]["user"].update(name=user, blogs=blogs, likes=len(self.likes[user]))
        response = JSONResponse(document)
        self._rate_headers(response)
        return response

    def _post(self, post: Post) -> dict[str, Any]:
        template = load_json("bridges/tumblr/user_likes.json")["response"]["liked_posts"][0]
        document: dict[str, Any] = copy.deepcopy(template)
        document.update(
            blog_name=post.blog,
            id=post.id,
            id_string=str(post.id),
            post_url=f"https://{post.blog}.tumblr.com/post/{post.id}",
            summary=f"Post {post.id} of {post.blog}",
            liked_timestamp=post.liked_at,
        )
        document["blog"].update(
            name=post.blog, url=f"https://{post.blog}.tumblr.com/", uuid=blog_uuid(post.blog)
        )
        return document

    async def _user_likes(self, request: Request) -> Response:
        user = self._gate(request)
        if isinstance(user, Response):
            return user
        query = request.query_params
        try:
            limit = min(max(int(query.get("limit", "20")), 1), 20)
            before = int(query["before"]) if "before" in query else None
        except ValueError:
            return JSONResponse(
                {"meta": {"status": 400, "msg": "Bad Request"}, "response": [], "errors": []},
                status_code=400,
            )
        liked = [p for p in self.likes[user] if before is None or p.liked_at < before]
        page = liked[:limit]
        response = self._likes_response(page, limit, len(liked), len(self.likes[user]))
        self._rate_headers(response)
        return response

    def _likes_response(self, page: list[Post], limit: int, left: int, total: int) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(
                b'{"meta": {"status": 200}, "response": {', media_type="application/json"
            )
        if knobs.oversized:
            return oversized(b'{"response": [', b"]}", media_type=None)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/tumblr/user_likes.json"))
        posts = [self._post(post) for post in page]
        if knobs.too_many and posts:
            posts = [copy.deepcopy(posts[0]) for _ in range(limit + 1)]
        if knobs.duplicate and len(posts) > 1:
            posts[1] = copy.deepcopy(posts[0])
        if knobs.path_trick and posts:
            posts[0]["blog_name"] = posts[0]["blog"]["name"] = "../admin"
        if knobs.out_of_order and len(posts) > 1:
            posts.reverse()
        body = document["response"]
        body.update(liked_posts=posts, liked_count=total)
        if page and left > len(page):
            last = str(page[-1].liked_at)
            href = f"/v2/user/likes?before={last}"
            if knobs.foreign_next:
                href = f"https://evil.example/v2/user/likes?before={last}"
            body["_links"]["next"].update(href=href, query_params={"before": last})
        else:
            del body["_links"]
        return JSONResponse(document)

    # --- control ------------------------------------------------------------------------

    async def _control_account(self, request: Request) -> Response:
        body = await request.json()
        blogs = [str(name) for name in body.get("blogs", [])] or None
        return JSONResponse({"blogs": self.add_account(str(body["user"]), blogs)})

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        post = self.like(str(body["user"]), str(body.get("blog", "")), int(body.get("at", 0)))
        return JSONResponse(
            {
                "post_id": str(post.id),
                "blog": post.blog,
                "uuid": blog_uuid(post.blog),
                "at": post.liked_at,
            }
        )

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["user"]), int(body["post_id"]))})


class TumblrControl(Control):
    """The fake's control API over HTTP (a context manager: it keeps a connection)."""

    def add_account(self, user: str, blogs: list[str] | None = None) -> list[str]:
        answer = self._post("accounts", {"user": user, "blogs": blogs or []})
        return [str(uuid) for uuid in answer["blogs"]]

    def like(self, user: str = "donor", blog: str = "", at: int = 0) -> dict[str, Any]:
        return self._post("like", {"user": user, "blog": blog, "at": at})

    def unlike(self, user: str, post_id: str) -> bool:
        return bool(self._post("unlike", {"user": user, "post_id": post_id})["removed"])
