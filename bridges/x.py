"""X (Twitter): the donor's liked posts through X API v2, paid per read.

Connecting: OAuth 2 authorization code with PKCE (S256); authorize at
`https://x.com/i/oauth2/authorize` (X's documented address; `twitter.com/i/oauth2/authorize`
was the older one), token at `https://api.x.com/2/oauth2/token` with HTTP Basic client
authentication (a confidential client), scopes `tweet.read users.read like.read
offline.access` (the last one gives a refresh token; access tokens live two hours, and each
refresh answers a new refresh token). `whoami` reads `GET /2/users/me`: the numeric user id
is the identity (stable; the @username changes), `@username` the handle,
`https://x.com/<username>` the profile. It notes the id in `credentials.extra["user_id"]`,
which `list_likes` needs for its path. A creator claims an X account the same way
(`verify_claim`).

Likes: `GET /2/users/<id>/liked_tweets?max_results=100&expansions=author_id&
user.fields=username&pagination_token=…`, newest like first, `meta.next_token` for the next
page. X keeps no like time (`liked_at` is None) and no id of the like: `like_id` and
`item_id` are the post id; `item_url` is `https://x.com/i/web/status/<id>` (built from the id
alone, the address `bridges.importers.x` gives too); the creator is the post's `author_id`
from `includes.users` (id, @username, profile). A post whose author is not in `includes`
(suspended or protected accounts) fails the page: we cannot tell whom to pay.

Cursors: a token-paged round of `bridges.rounds` (`Position`, `round_page`): X's
`pagination_token` pages and no "since", so a round reads from the top and stops at one of the
post ids the previous round saw first (`stop`, up to five of them, so that unliking one does
not send the round back through every page; X gives no like time to stop by).
`MAX_PAGES_PER_ROUND` bounds a round.

The request budget: X bills every read. The admin opts in with a monthly number of
requests (`[bridges.x] monthly_requests`, declared in `budget_terms`; without it the network
is not offered, `is_configured`); the instance counts them in one place for every account. The
network takes a `bridges.budgets.Budget` (`spend(period, requests) -> bool`, the period being
the UTC month "2026-12") and spends one request from it before each API read (token requests
are not reads); when it says no, `BudgetSpent` (a `RateLimited` until the first of next month,
UTC, the date it names) is raised and nothing is sent. The default is `Unlimited`;
`MemoryBudget` counts in one process. X's own monthly cap (429 with the problem type
`usage-capped`) is `BudgetSpent` too; any other 429 waits for `x-rate-limit-reset`.

Errors are RFC 7807 problems (`{"title", "detail", "type"}`); the Fetcher maps 401 to
`TokenExpired`/`TokenRevoked` and 5xx to `NetworkDown`. Hostile answers fail the page with
`BadPayload`: not the documented shape, more posts than asked, a post twice, ids that are not
digits, usernames that are not X usernames, a next token that does not move.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import ClassVar

import httpx

from bridges.base import Creator, Credentials, Like, LikesPage, NetworkConfig
from bridges.budgets import Budget, BudgetTerms, Period, Unlimited
from bridges.errors import BadPayload, BudgetSpent, RateLimited
from bridges.http import Fetched, check_uri, retry_after
from bridges.oauth2 import Endpoints, OAuth2Network
from bridges.rounds import Seen, check, parse_position, plain_title, refuse_expired, round_page

PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 10
TITLE_LENGTH = 120
POST_ID_RE = re.compile(r"[0-9]{1,25}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_]{1,15}")
NEXT_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,512}")
USAGE_CAPPED = "https://api.twitter.com/2/problems/usage-capped"


# --- the request budget ---------------------------------------------------------------------

# The admin's monthly number of requests (no default: without it X is not offered), counted
# by the UTC month.
BUDGET = BudgetTerms("monthly_requests", 0, Period("month"), "Requests this month")


# --- the network -----------------------------------------------------------------------------


def user_creator(user_id: str, username: str) -> Creator:
    profile = f"https://x.com/{username}"
    # The archive importer knows authors by handle only (bridges.importers.x.creator)
    return Creator("x", user_id, f"@{username}", profile, aliases=(username.lower(),))


class XNetwork(OAuth2Network):
    """X accounts over OAuth 2 with PKCE; likes from liked_tweets, within a request budget."""

    name = "x"
    label = "X (Twitter)"
    endpoints: ClassVar[Endpoints] = Endpoints(
        authorize="https://x.com/i/oauth2/authorize",
        token="https://api.x.com/2/oauth2/token",
        api="https://api.x.com/2",
    )
    scopes: ClassVar[tuple[str, ...]] = ("tweet.read", "users.read", "like.read", "offline.access")
    client_auth: ClassVar[str] = "basic"
    budget_terms: ClassVar[BudgetTerms] = BUDGET

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: NetworkConfig,
        budget: Budget | None = None,
    ) -> None:
        super().__init__(http, config)
        self.budget: Budget = budget or config.budget or Unlimited()

    @classmethod
    def is_configured(cls, config: NetworkConfig) -> bool:
        """Offered only when the admin opted in with a monthly number of requests too."""
        return super().is_configured(config) and config.budget_limit > 0

    async def _read(
        self, credentials: Credentials, path: str, params: Mapping[str, str]
    ) -> Fetched:
        """One API read: a request from the budget first, X's 429s decided here."""
        refuse_expired(credentials, self.label)
        if not await self.budget.spend(BUDGET.period.key(), 1):
            raise BudgetSpent(
                "this instance's X request budget for the month is spent; checks resume on "
                f"{BUDGET.period.next_start():%Y-%m-%d}",
                BUDGET.period.seconds_left(),
            )
        fetched = await self.api_get(credentials, path, params, expect=(200, 429))
        if fetched.status == 429:
            problem = _problem(fetched)
            if problem.get("type") == USAGE_CAPPED:
                said = str(problem.get("detail", "usage cap exceeded"))[:200]
                raise BudgetSpent(f"{fetched.url}: X's cap: {said}", BUDGET.period.seconds_left())
            raise RateLimited(f"{fetched.url} answered 429", retry_after(fetched.headers))
        return fetched

    # --- who --------------------------------------------------------------------------------

    async def whoami(self, credentials: Credentials) -> Creator:
        """The signed-in account; notes its id in `credentials.extra["user_id"]`."""
        fetched = await self._read(credentials, "/users/me", {"user.fields": "username"})
        data = fetched.json_object().get("data")
        if not isinstance(data, dict):
            raise BadPayload(f"{fetched.url}: no user in the answer")
        user_id = check(POST_ID_RE, data.get("id"), "user id")
        username = check(USERNAME_RE, data.get("username"), "username")
        credentials.extra["user_id"] = user_id
        return user_creator(user_id, username)

    # --- likes ------------------------------------------------------------------------------

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of liked posts (see the module doc for the cursors and the budget)."""
        position = parse_position(cursor, POST_ID_RE, "X")
        user_id = credentials.extra.get("user_id") or (await self.whoami(credentials)).external_id
        params = {
            "max_results": str(PAGE_SIZE),
            "expansions": "author_id",
            "user.fields": "username",
        }
        if position.page:
            params["pagination_token"] = position.page
        path = f"/users/{check(POST_ID_RE, user_id, 'user id')}/liked_tweets"
        fetched = await self._read(credentials, path, params)
        document = fetched.json_object()
        posts = document.get("data", [])
        if not isinstance(posts, list) or len(posts) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: data missing or more than {PAGE_SIZE} posts")
        authors = self._authors(document, fetched.url)
        seen: list[Seen] = []
        ids: set[str] = set()
        for index, post in enumerate(posts):
            like = self.parse_post(post, authors, f"{fetched.url} post {index}")
            if like.item_id in ids:
                raise BadPayload(f"{fetched.url}: post {like.item_id} listed twice")
            ids.add(like.item_id)
            seen.append(Seen(like, like.item_id, None))
        meta = document.get("meta")
        token = meta.get("next_token") if isinstance(meta, dict) else None
        next_page = check(NEXT_TOKEN_RE, token, "next_token") if token else None
        return round_page(position, seen, next_page, fetched, MAX_PAGES_PER_ROUND)

    def _authors(self, document: Mapping[str, object], where: str) -> dict[str, Creator]:
        includes = document.get("includes", {})
        users = includes.get("users", []) if isinstance(includes, dict) else None
        if not isinstance(users, list):
            raise BadPayload(f"{where}: includes.users is not a list")
        authors: dict[str, Creator] = {}
        for user in users:
            if not isinstance(user, dict):
                raise BadPayload(f"{where}: a user that is not an object")
            user_id = check(POST_ID_RE, user.get("id"), f"{where} user id")
            username = check(USERNAME_RE, user.get("username"), f"{where} username")
            authors[user_id] = user_creator(user_id, username)
        return authors

    def parse_post(self, post: object, authors: Mapping[str, Creator], where: str) -> Like:
        """A liked post as a Like, its author from `includes.users`."""
        if not isinstance(post, dict):
            raise BadPayload(f"{where}: not an object")
        post_id = check(POST_ID_RE, post.get("id"), f"{where} id")
        author_id = check(POST_ID_RE, post.get("author_id"), f"{where} author_id")
        creator = authors.get(author_id)
        if creator is None:
            raise BadPayload(f"{where}: the author {author_id} is not in includes.users")
        url = check_uri(f"https://x.com/i/web/status/{post_id}", f"{where} url")
        return Like(post_id, post_id, url, creator, plain_title(post.get("text"), TITLE_LENGTH))

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A post by id with its author (`GET /2/tweets/<id>`: one read from the budget)."""
        post_id = check(POST_ID_RE, item_id, "post id")
        params = {"expansions": "author_id", "user.fields": "username"}
        fetched = await self._read(credentials, f"/tweets/{post_id}", params)
        document = fetched.json_object()
        like = self.parse_post(
            document.get("data"), self._authors(document, fetched.url), fetched.url
        )
        if like.item_id != post_id:
            raise BadPayload(f"{fetched.url}: answered post {like.item_id}")
        return like


def _problem(fetched: Fetched) -> dict[str, object]:
    """X's problem document (RFC 7807), {} when the body is not one."""
    try:
        document = json.loads(fetched.body)
    except (ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}
