"""A fake Mastodon client API: app registration, the OAuth code flow with PKCE (authorize
approves at once as `authorize_as` and redirects with code and state), the token endpoint,
verify_credentials, favourites with Mastodon's Link paging (by favourite id, 40 at most,
`next` only when a page is full, `prev` unless it is empty), a status by id and WebFinger.
Payloads are the fixture files under tests/data/bridges/mastodon/ with their values changed.

Knobs (`Knobs`, or POST /_test/knobs with the same names in JSON) make it misbehave:
rate limit per token (X-RateLimit-* headers on every answer, 429 over it), 5xx for the next
N requests, malformed JSON, an oversized page, more statuses than asked, a `next` link that
loops or a `prev` link that moves back, a status without account, an id with a path trick,
accounts without `uri` (before Mastodon 4.2), hostile HTML in names and content.

Control API (JSON in, JSON out), also `MastodonControl` in Python:
- POST /_test/accounts {"username"} -> {"id", "uri", "acct"}: a local account.
- POST /_test/favourite {"username", "author"?: "bob@remote.example", "content"?, "uri"?,
  "author_uri"?}
  -> {"status_id", "uri", "favourite_id", "author_uri"}: a new status favourited by username.
- POST /_test/unfavourite {"username", "status_id"} -> {"removed": bool}
- POST /_test/tokens {"username", "state": "active"|"expired"|"revoked"} -> {"changed": n}
- POST /_test/token {"username"} -> {"access_token", "base_url"}: a token without the OAuth
  dance (benchmarks connect many accounts this way); `Credentials(token, extra={"base_url"})`
- POST /_test/knobs {knob: value, ...} -> the knobs now
- GET /_test/stats -> {"requests", "rate_limited", "over_limit"}
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

HOSTILE_NAME = 'Bob <script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclass
class Knobs:
    rate_limit: int = 300  # requests per token per window
    rate_window: float = 300.0
    fail_5xx: int = 0  # the next N API requests answer 503
    malformed_json: bool = False
    oversized: bool = False  # a favourites page of 3 MiB
    too_many: bool = False  # a page with more statuses than `limit`
    link_loop: bool = False  # `next` points at the page just read
    link_backwards: bool = False  # `prev`/`next` cursors move back
    missing_author: bool = False  # the first status has no account
    path_trick: bool = False  # the first status's id is "../../admin"
    no_account_uri: bool = False  # accounts without `uri` (before Mastodon 4.2)
    hostile_html: bool = True  # display names and content with markup
    deny: bool = False  # authorize redirects with error=access_denied
    refresh_tokens: bool = False  # tokens come with a refresh token
    endless: bool = False  # every page is full and has a `next` link, forever
    delay: float = 0.0  # seconds before answering favourites


@dataclass
class Status:
    id: int
    author: str  # acct: "bob@remote.example" or a local "alice"
    content: str
    uri: str = ""  # the status's ActivityPub id, when not <actor>/statuses/<id>
    author_uri: str = ""  # the author's actor id, when not https://<domain>/users/<user>


@dataclass
class Token:
    username: str
    state: str = "active"
    window_start: float = 0.0
    used: int = 0


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    username: str


@dataclass
class FakeMastodonApi(Controlled):
    host: str = "127.0.0.1"
    authorize_as: str = "donor"
    knobs: Knobs = field(default_factory=Knobs)
    apps: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (secret, redirect)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> access token
    accounts: dict[str, int] = field(default_factory=dict)  # username -> id
    statuses: dict[int, Status] = field(default_factory=dict)
    favourites: dict[str, dict[int, int]] = field(default_factory=dict)  # user: fav id -> status
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0  # requests a client made after being told remaining = 0
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_account(self.authorize_as)

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    # --- state, called directly by tests or through the control API ----------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_account(self, username: str) -> int:
        with self._lock:
            if username not in self.accounts:
                self.accounts[username] = self._new_id()
                self.favourites[username] = {}
            return self.accounts[username]

    def favourite(
        self,
        username: str,
        author: str = "bob@remote.example",
        content: str = "",
        uri: str = "",
        author_uri: str = "",
    ) -> dict[str, str]:
        """A new status by `author`, favourited by `username` (the newest favourite);
        `uri` and `author_uri` override the ActivityPub ids (a bridged post's, say)."""
        self.add_account(username)
        with self._lock:
            status_id = 110_000_000_000_000_000 + self._new_id()
            text = content or f"<p>post {status_id}</p>"
            self.statuses[status_id] = Status(status_id, author, text, uri, author_uri)
            favourite_id = self._new_id()
            self.favourites[username][favourite_id] = status_id
        return {
            "status_id": str(status_id),
            "uri": self.status_uri(self.statuses[status_id]),
            "favourite_id": str(favourite_id),
            "author_uri": author_uri or self.actor_uri(author),
        }

    def unfavourite(self, username: str, status_id: int) -> bool:
        with self._lock:
            found = [
                fid for fid, sid in self.favourites.get(username, {}).items() if sid == status_id
            ]
            for fid in found:
                del self.favourites[username][fid]
            return bool(found)

    def issue_token(self, username: str) -> str:
        """An access token for `username` (made if new), as if it had signed in."""
        self.add_account(username)
        return str(self._issue(username)["access_token"])

    def set_tokens(self, username: str, state: str) -> int:
        with self._lock:
            changed = [token for token in self.tokens.values() if token.username == username]
            for token in changed:
                token.state = state
            return len(changed)

    # --- documents ------------------------------------------------------------------------

    def _where(self, acct: str) -> tuple[str, str]:
        user, _, domain = acct.partition("@")
        return user, domain

    def actor_uri(self, acct: str) -> str:
        user, domain = self._where(acct)
        return f"https://{domain}/users/{user}" if domain else f"{self.base}/users/{user}"

    def status_uri(self, status: Status) -> str:
        return status.uri or f"{self.actor_uri(status.author)}/statuses/{status.id}"

    def account_json(self, acct: str, account_id: int) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/mastodon/account.json"))
        user, domain = self._where(acct)
        profile = f"https://{domain}/@{user}" if domain else f"{self.base}/@{user}"
        document.update(
            id=str(account_id),
            username=user,
            acct=acct,
            url=profile,
            uri=self.actor_uri(acct),
            display_name=HOSTILE_NAME if self.knobs.hostile_html else user.title(),
        )
        if self.knobs.no_account_uri:
            del document["uri"]
        return document

    def status_json(self, status: Status) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/mastodon/status.json"))
        user, domain = self._where(status.author)
        content = status.content
        if self.knobs.hostile_html:
            content += "<script>alert('x')</script>"
        document.update(
            id=str(status.id),
            uri=self.status_uri(status),
            url=f"https://{domain or self.host}/@{user}/{status.id}",
            content=content,
            account=self.account_json(status.author, 900_000 + len(user)),
        )
        if status.author_uri and "uri" in document["account"]:
            document["account"]["uri"] = status.author_uri
        return document

    # --- the app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/apps", self._apps, methods=["POST"]),
                Route("/oauth/authorize", self._authorize),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/api/v1/accounts/verify_credentials", self._verify_credentials),
                Route("/api/v1/favourites", self._favourites),
                Route("/api/v1/statuses/{id}", self._status),
                Route("/.well-known/webfinger", self._webfinger),
                Route("/_test/accounts", self._control_account, methods=["POST"]),
                Route("/_test/favourite", self._control_favourite, methods=["POST"]),
                Route("/_test/unfavourite", self._control_unfavourite, methods=["POST"]),
                Route("/_test/tokens", self._control_tokens, methods=["POST"]),
                Route("/_test/token", self._control_token, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    async def _apps(self, request: Request) -> Response:
        form = await request.form()
        redirect = str(form.get("redirect_uris", ""))
        if not redirect or "read:favourites" not in str(form.get("scopes", "")):
            return JSONResponse({"error": "Validation failed"}, status_code=422)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/mastodon/app.json"))
        client_id, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self.apps[client_id] = (secret, redirect)
        document.update(
            id=str(self._new_id()),
            name=str(form.get("client_name", "")),
            redirect_uri=redirect,
            redirect_uris=[redirect],
            client_id=client_id,
            client_secret=secret,
        )
        return JSONResponse(document)

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        app = self.apps.get(query.get("client_id", ""))
        redirect = query.get("redirect_uri", "")
        if app is None or app[1] != redirect or query.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "pkce": "required"}, status_code=400)
        state = query.get("state", "")
        if self.knobs.deny:
            return RedirectResponse(
                f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}"
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.grants[code] = Grant(
                query["client_id"], redirect, query["code_challenge"], self.authorize_as
            )
        return RedirectResponse(f"{redirect}?{urlencode({'code': code, 'state': state})}")

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        app = self.apps.get(form.get("client_id", ""))
        if app is None or app[0] != form.get("client_secret"):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "refresh_token":
            old = self.refresh.pop(form.get("refresh_token", ""), None)
            if old is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(self._issue(self.tokens[old].username))
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or grant.client_id != form["client_id"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if grant.redirect_uri != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "pkce": "mismatch"}, status_code=400)
        return JSONResponse(self._issue(grant.username))

    def _issue(self, username: str) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/mastodon/token.json"))
        access = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[access] = Token(username)
        document.update(access_token=access, created_at=int(time.time()))
        if self.knobs.refresh_tokens:
            refresh = secrets.token_urlsafe(32)
            self.refresh[refresh] = access
            document.update(refresh_token=refresh, expires_in=7200)
        return document

    def _authenticate(self, request: Request) -> Token | Response:
        """The request's token, or the answer to give instead (401, 429, 503)."""
        self.requests += 1
        if self.knobs.fail_5xx > 0:
            self.knobs.fail_5xx -= 1
            return JSONResponse({"error": "Service Unavailable"}, status_code=503)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        token = self.tokens.get(bearer)
        if token is None:
            return JSONResponse({"error": "The access token is invalid"}, status_code=401)
        if token.state != "active":
            said = "expired" if token.state == "expired" else "was revoked"
            return JSONResponse({"error": f"The access token {said}"}, status_code=401)
        now = time.time()
        with self._lock:
            if now - token.window_start >= self.knobs.rate_window:
                token.window_start, token.used = now, 0
            token.used += 1
        if token.used > self.knobs.rate_limit:
            self.rate_limited += 1
            if token.used > self.knobs.rate_limit + 1:
                self.over_limit += 1
            response = JSONResponse({"error": "Too many requests"}, status_code=429)
            self._rate_headers(response, token)
            return response
        return token

    def _rate_headers(self, response: Response, token: Token) -> None:
        reset = datetime.fromtimestamp(token.window_start + self.knobs.rate_window, UTC)
        response.headers["X-RateLimit-Limit"] = str(self.knobs.rate_limit)
        response.headers["X-RateLimit-Remaining"] = str(max(self.knobs.rate_limit - token.used, 0))
        response.headers["X-RateLimit-Reset"] = reset.isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        )

    async def _verify_credentials(self, request: Request) -> Response:
        token = self._authenticate(request)
        if isinstance(token, Response):
            return token
        response = JSONResponse(self.account_json(token.username, self.accounts[token.username]))
        self._rate_headers(response, token)
        return response

    async def _favourites(self, request: Request) -> Response:
        token = self._authenticate(request)
        if isinstance(token, Response):
            return token
        query = request.query_params
        try:
            limit = min(max(int(query.get("limit", "20")), 1), 40)
            max_id = int(query["max_id"]) if "max_id" in query else None
            min_id = int(query["min_id"]) if "min_id" in query else None
        except ValueError:
            return JSONResponse({"error": "bad id"}, status_code=400)
        if self.knobs.delay:
            await asyncio.sleep(self.knobs.delay)
        page = self._page(token.username, limit, max_id, min_id)
        if self.knobs.endless and min_id is None:
            page = self._endless(limit, max_id)
        response = self._favourites_response(page, limit, max_id, min_id)
        self._rate_headers(response, token)
        return response

    def _page(
        self, username: str, limit: int, max_id: int | None, min_id: int | None
    ) -> list[tuple[int, Status]]:
        with self._lock:
            favourites = sorted(self.favourites.get(username, {}).items(), reverse=True)
            if min_id is not None:
                above = sorted(item for item in favourites if item[0] > min_id)[:limit]
                chosen = list(reversed(above))
            else:
                chosen = [item for item in favourites if max_id is None or item[0] < max_id]
                chosen = chosen[:limit]
            return [(fid, self.statuses[sid]) for fid, sid in chosen]

    def _endless(self, limit: int, max_id: int | None) -> list[tuple[int, Status]]:
        """A full page of made-up favourites below `max_id`: a list with no end."""
        top = (max_id or 10**12) - 1
        made = [Status(top - index, "bob@remote.example", "<p>again</p>") for index in range(limit)]
        return [(status.id, status) for status in made]

    def _favourites_response(
        self, page: list[tuple[int, Status]], limit: int, max_id: int | None, min_id: int | None
    ) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'[{"id": "1", "uri": ', media_type="application/json")
        if knobs.oversized:
            return Response(b"[" + b" " * (3 * 1024 * 1024) + b"]", media_type="application/json")
        statuses = [self.status_json(status) for _, status in page]
        if knobs.too_many and statuses:
            statuses = statuses * (limit + 1)
        if knobs.missing_author and statuses:
            del statuses[0]["account"]
        if knobs.path_trick and statuses:
            statuses[0]["id"] = "../../admin"
        links = []
        endpoint = f"{self.base}/api/v1/favourites"
        if page and (len(page) == limit or knobs.link_loop):
            older = max_id if knobs.link_loop and max_id else page[-1][0]
            if knobs.link_loop and max_id is None:
                older = page[0][0] + 1
            if knobs.link_backwards and max_id:
                older = max_id + 100
            links.append(f'<{endpoint}?{urlencode({"limit": limit, "max_id": older})}>; rel="next"')
        if page:
            newer = page[0][0]
            if knobs.link_backwards and min_id:
                newer = min_id - 1
            links.append(f'<{endpoint}?{urlencode({"limit": limit, "min_id": newer})}>; rel="prev"')
        response = JSONResponse(statuses)
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    async def _status(self, request: Request) -> Response:
        try:
            status = self.statuses.get(int(request.path_params["id"]))
        except ValueError:
            status = None
        if status is None:
            return JSONResponse({"error": "Record not found"}, status_code=404)
        return JSONResponse(self.status_json(status))

    async def _webfinger(self, request: Request) -> Response:
        resource = request.query_params.get("resource", "").removeprefix("acct:")
        user, _, host = resource.partition("@")
        if host != self.host or user not in self.accounts:
            return Response(status_code=404)
        href = self.actor_uri(user)
        links = [{"rel": "self", "type": "application/activity+json", "href": href}]
        return JSONResponse({"subject": f"acct:{resource}", "links": links})

    # --- control API ----------------------------------------------------------------------

    async def _control_account(self, request: Request) -> Response:
        body = await request.json()
        username = str(body["username"])
        account_id = self.add_account(username)
        return JSONResponse(
            {"id": str(account_id), "uri": self.actor_uri(username), "acct": username}
        )

    async def _control_favourite(self, request: Request) -> Response:
        body = await request.json()
        made = self.favourite(
            str(body.get("username", self.authorize_as)),
            str(body.get("author", "bob@remote.example")),
            str(body.get("content", "")),
            str(body.get("uri", "")),
            str(body.get("author_uri", "")),
        )
        return JSONResponse(made)

    async def _control_unfavourite(self, request: Request) -> Response:
        body = await request.json()
        removed = self.unfavourite(str(body["username"]), int(body["status_id"]))
        return JSONResponse({"removed": removed})

    async def _control_tokens(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"changed": self.set_tokens(str(body["username"]), str(body["state"]))})

    async def _control_token(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse(
            {"access_token": self.issue_token(str(body["username"])), "base_url": self.base}
        )


class MastodonControl(Control):
    """The control API from Python, over HTTP, for a fake served by another process too
    (a context manager: it keeps a connection)."""

    def add_account(self, username: str) -> dict[str, Any]:
        return self._post("accounts", {"username": username})

    def favourite(
        self,
        username: str = "donor",
        author: str = "bob@remote.example",
        content: str = "",
        uri: str = "",
        author_uri: str = "",
    ) -> dict[str, Any]:
        body = {"username": username, "author": author, "content": content}
        return self._post("favourite", {**body, "uri": uri, "author_uri": author_uri})

    def unfavourite(self, username: str, status_id: str) -> bool:
        return bool(
            self._post("unfavourite", {"username": username, "status_id": status_id})["removed"]
        )

    def tokens(self, username: str, state: str) -> int:
        return int(self._post("tokens", {"username": username, "state": state})["changed"])

    def issue_token(self, username: str) -> str:
        return str(self._post("token", {"username": username})["access_token"])
