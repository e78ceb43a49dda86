"""A fake GitHub: the OAuth app flow (the shared provider, with GitHub's ways: a refused code
or secret is a 200 with `{"error": …}`, granted scopes come comma-separated), `GET /user`,
`GET /user/starred` (star+json items, newest first, `per_page` up to 100, `page`, a `Link`
header with `rel="next"` and `rel="last"`), `GET /repositories/{id}` and
`GET /user/memberships/orgs/{org}`. Payloads are the fixture files under
tests/data/bridges/github/ with their values changed.

Rate limit per token (`x-ratelimit-limit`, `-remaining`, `-used`, `-reset` in Unix seconds on
every answer); over it GitHub's answer: 403 (or 429, `rate_status`) with remaining 0 and the
documented message; `secondary` answers the next N reads with 403 and `retry-after`.

Knobs (`Knobs`, or POST /_test/knobs): fail_5xx, malformed_json, oversized, too_many,
duplicate, bad_owner_id, bad_name, missing_owner, link_outside, link_stuck, forbidden (a 403
without rate-limit headers).

Control API (JSON): POST /_test/accounts {"login", "type"?: "User"|"Organization"} -> {"id"};
POST /_test/star {"user", "owner", "name"?} -> {"repo_id", "owner_id", "starred_at"};
POST /_test/unstar {"user", "repo_id"} -> {"removed"};
POST /_test/membership {"org", "user", "state", "role"};
plus the provider's /_test/authorize_as and /_test/token, and /_test/knobs, /_test/stats;
`GitHubControl` from Python.
"""

from __future__ import annotations

import copy
import itertools
import json
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


class GitHubProvider(OAuth2Provider):
    """The shared provider answering the token endpoint as GitHub does."""

    async def _token(self, request: Request) -> Response:
        answer = await super()._token(request)
        document = json.loads(bytes(answer.body))
        if answer.status_code != 200:
            refused = copy.deepcopy(load_json("bridges/github/token_error.json"))
            if document.get("error") == "invalid_client":
                refused.update(error="incorrect_client_credentials")
            return JSONResponse(refused)
        if "scope" in document:
            document["scope"] = ",".join(str(document["scope"]).split())
        return JSONResponse(document)


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 5000  # reads per token per window
    rate_window: float = 3600.0
    rate_status: int = 403  # GitHub answers an exhausted primary limit with 403 (or 429)
    secondary: int = 0  # the next N reads answer 403 with retry-after (secondary limit)
    bad_owner_id: bool = False
    bad_name: bool = False
    missing_owner: bool = False
    link_outside: bool = False
    link_stuck: bool = False
    forbidden: bool = False


@dataclass
class Account:
    id: int
    login: str
    type: str = "User"


@dataclass
class Repo:
    id: int
    owner: str
    name: str


@dataclass
class FakeGitHub(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    provider: GitHubProvider = field(
        default_factory=lambda: GitHubProvider(
            "/login/oauth/authorize", "/login/oauth/access_token"
        )
    )
    accounts: dict[str, Account] = field(default_factory=dict)
    repos: dict[int, Repo] = field(default_factory=dict)
    stars: dict[str, list[tuple[int, datetime]]] = field(default_factory=dict)  # newest last
    memberships: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    usage: dict[str, Window] = field(default_factory=dict)
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(70_001))
    _clock: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.add_account(self.provider.user)

    # --- state ------------------------------------------------------------------------------

    def add_account(self, login: str, kind: str = "User") -> Account:
        with self._lock:
            if login not in self.accounts:
                self.accounts[login] = Account(next(self._ids), login, kind)
                self.stars[login] = []
            return self.accounts[login]

    def star(self, user: str, owner: str = "marlowe", name: str = "") -> dict[str, Any]:
        """`user` stars a new repository of `owner` (made if new); a minute after the last."""
        self.add_account(user)
        owner_account = self.add_account(owner)
        with self._lock:
            repo_id = next(self._ids) * 10
            self.repos[repo_id] = Repo(repo_id, owner, name or f"repo-{repo_id}")
            self._clock += timedelta(minutes=1)
            self.stars[user].append((repo_id, self._clock))
        return {
            "repo_id": str(repo_id),
            "owner_id": str(owner_account.id),
            "starred_at": self._clock.isoformat().replace("+00:00", "Z"),
        }

    def unstar(self, user: str, repo_id: int) -> bool:
        with self._lock:
            before = len(self.stars.get(user, []))
            self.stars[user] = [star for star in self.stars.get(user, []) if star[0] != repo_id]
            return len(self.stars[user]) < before

    # --- documents ----------------------------------------------------------------------------

    def owner_json(self, login: str) -> dict[str, Any]:
        account = self.accounts[login]
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/github/user.json"))
        document.update(
            login=login,
            id=account.id,
            type=account.type,
            url=f"https://api.github.com/users/{login}",
            html_url=f"https://github.com/{login}",
            name=login.title(),
        )
        return document

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        star: dict[str, Any] = copy.deepcopy(load_json("bridges/github/starred.json")[0])
        document: dict[str, Any] = star["repo"]
        document.update(
            id=repo.id,
            name=repo.name,
            full_name=f"{repo.owner}/{repo.name}",
            html_url=f"https://github.com/{repo.owner}/{repo.name}",
            url=f"https://api.github.com/repos/{repo.owner}/{repo.name}",
            owner=self.owner_json(repo.owner),
        )
        return document

    def star_json(self, repo_id: int, starred_at: datetime) -> dict[str, Any]:
        return {
            "starred_at": starred_at.isoformat().replace("+00:00", "Z"),
            "repo": self.repo_json(self.repos[repo_id]),
        }

    # --- the app --------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.provider.routes(),
                Route("/user", self._user),
                Route("/user/starred", self._starred),
                Route("/repositories/{id}", self._repository),
                Route("/user/memberships/orgs/{org}", self._membership),
                Route("/_test/accounts", self._control_account, methods=["POST"]),
                Route("/_test/star", self._control_star, methods=["POST"]),
                Route("/_test/unstar", self._control_unstar, methods=["POST"]),
                Route("/_test/membership", self._control_membership, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    def _rate_headers(self, response: Response, usage: Window) -> Response:
        response.headers["x-ratelimit-limit"] = str(self.knobs.rate_limit)
        remaining = max(self.knobs.rate_limit - usage.used, 0)
        response.headers["x-ratelimit-remaining"] = str(remaining)
        response.headers["x-ratelimit-used"] = str(min(usage.used, self.knobs.rate_limit))
        reset = int(usage.start + self.knobs.rate_window)
        response.headers["x-ratelimit-reset"] = str(reset)
        response.headers["x-ratelimit-resource"] = "core"
        return response

    def _authenticate(self, request: Request) -> tuple[str, Window] | Response:
        self.requests += 1
        if failing(self.knobs):
            return JSONResponse({"message": "Server Error"}, status_code=502)
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            refused = load_json("bridges/github/error_bad_credentials.json")
            return JSONResponse(refused, status_code=401)
        if self.knobs.forbidden:
            return JSONResponse({"message": "Resource not accessible"}, status_code=403)
        token = request.headers["authorization"].partition(" ")[2]
        usage = token_window(self.usage, self._lock, token, time.time(), self.knobs.rate_window)
        if self.knobs.secondary > 0:
            self.knobs.secondary -= 1
            self.rate_limited += 1
            said = {"message": "You have exceeded a secondary rate limit."}
            return JSONResponse(said, status_code=403, headers={"retry-after": "60"})
        if past_limit(self, usage.used, self.knobs.rate_limit):
            said = load_json("bridges/github/error_rate_limit.json")
            status = self.knobs.rate_status
            return self._rate_headers(JSONResponse(said, status_code=status), usage)
        return user, usage

    async def _user(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        user, usage = found
        self.add_account(user)
        return self._rate_headers(JSONResponse(self.owner_json(user)), usage)

    async def _starred(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        user, usage = found
        if request.headers.get("accept") != "application/vnd.github.star+json":
            return JSONResponse({"message": "the fake wants the star media type"}, 415)
        query = request.query_params
        try:
            per_page = min(max(int(query.get("per_page", "30")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            return JSONResponse({"message": "Invalid request"}, status_code=422)
        with self._lock:
            newest_first = list(reversed(self.stars.get(user, [])))
        chosen, last_page = page_of(newest_first, page, per_page)
        response = self._starred_response(user, chosen, per_page, page, last_page)
        return self._rate_headers(response, usage)

    def _starred_response(
        self,
        user: str,
        chosen: list[tuple[int, datetime]],
        per_page: int,
        page: int,
        last_page: int,
    ) -> Response:
        knobs = self.knobs
        if knobs.malformed_json:
            return Response(b'[{"starred_at": "2026-', media_type="application/json")
        if knobs.oversized:
            return oversized(b"[", b"]")
        items = [self.star_json(repo_id, at) for repo_id, at in chosen]
        if knobs.too_many and items:
            items = items * (per_page + 1)
        if knobs.duplicate and items:
            items.append(copy.deepcopy(items[0]))
        if items and knobs.bad_owner_id:
            items[0]["repo"]["owner"]["id"] = "../1"
        if items and knobs.bad_name:
            items[0]["repo"]["name"] = "../../admin"
        if items and knobs.missing_owner:
            del items[0]["repo"]["owner"]
        response = JSONResponse(items)
        links = []
        base = "https://evil.example" if knobs.link_outside else f"http://{self.host}"
        if page < last_page:
            following = page if knobs.link_stuck else page + 1
            params = {"per_page": per_page, "page": following}
            links.append(f'<{base}/user/starred?{urlencode(params)}>; rel="next"')
            params = {"per_page": per_page, "page": last_page}
            links.append(f'<{base}/user/starred?{urlencode(params)}>; rel="last"')
        if links:
            response.headers["link"] = ", ".join(links)
        return response

    async def _repository(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        _, usage = found
        try:
            repo = self.repos.get(int(request.path_params["id"]))
        except ValueError:
            repo = None
        if repo is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return self._rate_headers(JSONResponse(self.repo_json(repo)), usage)

    async def _membership(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        user, usage = found
        org = request.path_params["org"]
        membership = self.memberships.get((org, user))
        if membership is None or org not in self.accounts:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/github/org_membership.json"))
        document.update(state=membership[0], role=membership[1])
        document["organization"].update(login=org, id=self.accounts[org].id)
        document["user"].update(login=user, id=self.accounts[user].id)
        return self._rate_headers(JSONResponse(document), usage)

    # --- control API --------------------------------------------------------------------------

    async def _control_account(self, request: Request) -> Response:
        body = await request.json()
        account = self.add_account(str(body["login"]), str(body.get("type", "User")))
        return JSONResponse({"id": str(account.id)})

    async def _control_star(self, request: Request) -> Response:
        body = await request.json()
        made = self.star(str(body["user"]), str(body.get("owner", "marlowe")), body.get("name", ""))
        return JSONResponse(made)

    async def _control_unstar(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unstar(str(body["user"]), int(body["repo_id"]))})

    async def _control_membership(self, request: Request) -> Response:
        body = await request.json()
        self.add_account(str(body["org"]), "Organization")
        self.add_account(str(body["user"]))
        key = (str(body["org"]), str(body["user"]))
        self.memberships[key] = (str(body.get("state", "active")), str(body.get("role", "admin")))
        return JSONResponse({"ok": True})


class GitHubControl(Control):
    """The control API from Python, over HTTP (a context manager: it keeps a connection)."""

    def star(self, user: str = "donor", owner: str = "marlowe") -> dict[str, Any]:
        return self._post("star", {"user": user, "owner": owner})

    def membership(self, org: str, user: str, state: str = "active", role: str = "admin") -> None:
        self._post("membership", {"org": org, "user": user, "state": state, "role": role})
