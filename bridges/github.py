"""GitHub: a star is the like, the starred repository the item, its owner (a user or an
organisation) the creator.

Connecting: an OAuth app the admin registers (`[bridges.github] client_id`, `client_secret`).
The donor is sent to `https://github.com/login/oauth/authorize` (scope `read:user`; no PKCE
needed, the secret goes in the form), the code is exchanged at
`https://github.com/login/oauth/access_token` (JSON, as the Fetcher asks for it; GitHub
answers a refused code with 200 and `{"error": …}`, taken here as a refusal) and `GET /user`
says who signed in. OAuth app tokens do not expire and come without refresh tokens.

Claims: a creator proves a user account by signing in. To claim an organisation the creator
names it as the handle: the authorization then also asks `read:org`, and `verify_claim`
reads `GET /user/memberships/orgs/{org}`, which must say `state: active` and `role: admin`;
the identity proven is the organisation's.

Likes: `GET /user/starred?sort=created&direction=desc&per_page=100&page=N` with
`Accept: application/vnd.github.star+json` answers `[{"starred_at", "repo": {…}}]`, newest
star first, paged by a `Link` header (`rel="next"`). A `Like`'s `like_id` and `item_id` are the
repository's numeric `id`; `item_url` is `https://github.com/<owner>/<name>`, built from the
checked owner login and repository name (a rename moves it; the id stays); `liked_at` is
`starred_at`; the creator is `repo.owner`: its numeric `id` (stable across renames), its
login as handle, `https://github.com/<login>` as profile.

Cursors (a page-numbered round of `bridges.rounds`; every id is a number):
- None: page 1 of a first round, which reads at most `MAX_PAGES_PER_ROUND` pages.
- `since=<repo id>&at=<unix seconds>`: a later round, from page 1 down to the star of that
  repository (or to any star older than `at`, should that one have been unstarred).
- `page=<n>&top=<id>&topat=<t>&last=<id>&lastat=<t>[&since=…&at=…]`: the next page of a
  round; `top` and `topat` are its newest star (the resume point), `last` and `lastat` the
  last star read: stars added meanwhile shift the page, which then repeats stars already
  read; those (and stars given after `lastat`, left to the next round, which reads down to
  `top`) are dropped, so a wait mid-round neither loses nor repeats a star.
Every page's `resume_cursor` is `since=<top>&at=<topat>`. Page numbers also shift when stars
are removed during a round: an older star can then move onto a page already read and be
missed (the known gap of page-numbered lists).

Rate limits: `x-ratelimit-*` headers (reset in Unix seconds). GitHub answers an exhausted
primary limit with 403 (or 429) and `x-ratelimit-remaining: 0`, and a secondary limit with
403 and `retry-after`: both are `RateLimited`, not a revoked token. Another 403 is
`TokenRevoked`, and so is a 401 ("Bad credentials").

Hostile answers fail the page with `BadPayload`: not an array, more than 100 stars, a
repository twice, ids that are not numbers, logins or names with other characters, a
`next` link outside the API root or one that does not move to the following page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from bridges import rounds
from bridges.base import ConnectStart, Creator, Credentials, Like, LikesPage
from bridges.errors import BadPayload, ConnectFailed, RateLimited, TokenRevoked, UnexpectedStatus
from bridges.http import Fetched, check_uri, retry_after
from bridges.oauth2 import Endpoints, OAuth2Network
from bridges.rounds import PageCursor, each_once, page_round, parse_time

PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 10
TITLE_LENGTH = 120
WEB = "https://github.com"
STAR_JSON = "application/vnd.github.star+json"
GITHUB_JSON = "application/vnd.github+json"
LOGIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})")
REPO_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
LINK_RE = re.compile(r"<([^>]*)>\s*;\s*rel=\"?([A-Za-z ]+)\"?")


def number(value: object, what: str) -> str:
    """A numeric id (JSON number or digits) as a string; anything else is a bad payload."""
    return rounds.number(value, what, "not a numeric id")


def login(value: object, what: str) -> str:
    if not isinstance(value, str) or not LOGIN_RE.fullmatch(value):
        raise BadPayload(f"{what}: not a GitHub login: {str(value)[:80]!r}")
    return value


def next_page(header: str) -> str | None:
    """The target of a Link header's rel="next", if any."""
    for target, rels in LINK_RE.findall(header):
        if "next" in rels.split():
            return str(target)
    return None


CURSOR = PageCursor("GitHub", number, times="required", check_number=number)


class GitHubNetwork(OAuth2Network):
    """GitHub stars (see the module doc)."""

    name = "github"
    label = "GitHub"
    group_claim = "organisation"
    endpoints = Endpoints(
        authorize="https://github.com/login/oauth/authorize",
        token="https://github.com/login/oauth/access_token",
        api="https://api.github.com",
    )
    scopes = ("read:user",)
    pkce = False

    # --- connecting and claims ------------------------------------------------------------

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart:
        """`handle` is empty for a donor; a creator claiming an organisation names it, and
        the authorization then asks `read:org` too."""
        org = handle.strip().removeprefix("@")
        if not org:
            return await super().start_connect(handle, redirect_uri, state)
        if not LOGIN_RE.fullmatch(org):
            raise ConnectFailed(f"not a GitHub account name: {handle[:80]!r}")
        start = await super().start_connect(handle, redirect_uri, state)
        parts = urlsplit(start.redirect_to)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        query["scope"] = "read:user read:org"
        target = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
        return ConnectStart(start.kind, target, {**start.pending, "org": org})

    async def _token(self, form: dict[str, str]) -> dict[str, object]:
        answer = await super()._token(form)
        error = answer.get("error")
        if error is not None:  # GitHub refuses a code or a secret with a 200
            said = answer.get("error_description") or error
            raise UnexpectedStatus(f"GitHub refused: {str(said)[:200]}", 200)
        return answer

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """The signed-in user, or the organisation `pending["org"]` that user administers."""
        connection = await self.finish_connect(pending, callback, pending.get("redirect_uri", ""))
        user = connection.account
        org = pending.get("org", "")
        if not org or org.lower() == user.handle.lower():
            return user
        fetched = await self._get(
            connection.credentials,
            f"/user/memberships/orgs/{login(org, 'organisation')}",
            expect=(200, 403, 404),
        )
        if fetched.status != 200:
            raise ConnectFailed(f"{user.handle} is not a member of the GitHub organisation {org}")
        membership = fetched.json_object()
        if membership.get("state") != "active" or membership.get("role") != "admin":
            raise ConnectFailed(f"{user.handle} is not an admin of the GitHub organisation {org}")
        organisation = membership.get("organization")
        if not isinstance(organisation, dict):
            raise BadPayload("GitHub: a membership without its organization")
        found = self._owner(organisation, "membership organization")
        if found.handle.lower() != org.lower():
            raise BadPayload(f"GitHub: asked for {org}'s membership, got {found.handle}'s")
        return found

    async def whoami(self, credentials: Credentials) -> Creator:
        return self._owner((await self._get(credentials, "/user")).json_object(), "GET /user")

    # --- reading --------------------------------------------------------------------------

    async def _get(
        self,
        credentials: Credentials,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        accept: str = GITHUB_JSON,
        expect: tuple[int, ...] = (200,),
    ) -> Fetched:
        """An API read where a 403 is read before it is believed: GitHub's rate limits
        answer 403 (see the module doc)."""
        fetched = await self.api_get(
            credentials, path, params, accept=accept, expect=(*expect, 403)
        )
        if fetched.status == 403:
            headers = fetched.headers
            if headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers:
                raise RateLimited(
                    f"{fetched.url} answered 403 (GitHub rate limit)", retry_after(headers)
                )
            if 403 not in expect:
                raise TokenRevoked(f"{fetched.url} answered 403: access refused")
        return fetched

    def _owner(self, document: Mapping[str, object], where: str) -> Creator:
        handle = login(document.get("login"), f"{where} login")
        owner_id = number(document.get("id"), f"{where} id")
        return Creator(self.name, owner_id, handle, f"{WEB}/{handle}")

    def parse_repo(self, repo: object, where: str, liked_at: datetime | None = None) -> Like:
        """A repository as a Like (BadPayload when any part we need is wrong)."""
        if not isinstance(repo, dict):
            raise BadPayload(f"{where}: not a repository object")
        repo_id = number(repo.get("id"), f"{where} id")
        owner = repo.get("owner")
        if not isinstance(owner, dict):
            raise BadPayload(f"{where}: repository {repo_id} has no owner")
        creator = self._owner(owner, f"{where} owner")
        name = repo.get("name")
        if not isinstance(name, str) or not REPO_RE.fullmatch(name) or name in (".", ".."):
            raise BadPayload(f"{where}: not a repository name: {str(name)[:80]!r}")
        url = check_uri(f"{WEB}/{creator.handle}/{name}", f"{where} url")
        title = f"{creator.handle}/{name}"[:TITLE_LENGTH]
        return Like(repo_id, repo_id, url, creator, title, liked_at)

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's stars, newest first (see the module doc)."""
        position = CURSOR.parse(cursor)
        params = {
            "sort": "created",
            "direction": "desc",
            "per_page": str(PAGE_SIZE),
            "page": str(position.page),
        }
        fetched = await self._get(credentials, "/user/starred", params, accept=STAR_JSON)
        link = next_page(fetched.headers.get("link", ""))
        page = page_round(
            position, self._stars(fetched), link is not None, MAX_PAGES_PER_ROUND, fetched.rate
        )
        if link is not None and page.next_cursor is not None:
            self._check_next(link, position.page, fetched.url)
        return page

    def _check_next(self, link: str, page: int, where: str) -> None:
        target = self.api_url(link)  # BadPayload outside the API root
        query = parse_qs(urlsplit(target).query)
        if query.get("page") != [str(page + 1)]:
            raise BadPayload(f"{where}: the next link does not move to page {page + 1}")

    def _stars(self, fetched: Fetched) -> list[Like]:
        items = fetched.json_array()
        if len(items) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: {len(items)} stars for {PAGE_SIZE} asked")
        return each_once(items, self.parse_star, fetched.url, "repository")

    def parse_star(self, item: object, where: str) -> Like:
        """A star+json item (`{"starred_at", "repo"}`) as a Like."""
        if not isinstance(item, dict):
            raise BadPayload(f"{where}: not a star object")
        starred_at = parse_time(item.get("starred_at"), f"{where} starred_at")
        return self.parse_repo(item.get("repo"), where, starred_at)

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A repository by its numeric id (`GET /repositories/{id}`)."""
        repo_id = number(item_id, "repository id")
        fetched = await self._get(credentials, f"/repositories/{repo_id}")
        return self.parse_repo(fetched.json_object(), fetched.url)
