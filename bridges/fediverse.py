"""Fediverse accounts elsewhere: Mastodon and every server that speaks its client API
(GoToSocial, Pixelfed, Akkoma, …), through `GET /api/v1/favourites`.

Connecting: the donor gives a handle (`@user@server`, `user@server`) or the server's address;
we register an app there (`POST /api/v1/apps`, scopes `read:favourites read:accounts`), send
the donor to `/oauth/authorize` with PKCE (S256) and a state, exchange the code at
`/oauth/token` and read `/api/v1/accounts/verify_credentials`. The donor's identity is the
account's ActivityPub actor URI (`Account.uri`, Mastodon 4.2+; WebFinger where it is missing).

Authlib gives the PKCE pieces (the verifier and its S256 challenge); its
`AsyncOAuth2Client` is not used: it is an httpx client of its own, and every request here
must go over the instance's one client behind `bridges.http.Fetcher` (SSRF guard, size
limit, error mapping). The two OAuth requests are plain form POSTs.

Likes: Mastodon keeps no time for a favourite (`liked_at` is None) and shows no id for it
outside the `Link` header, whose `max_id`/`min_id` are favourite ids (not status ids). A
`Like`'s `like_id` is therefore the status id *on the donor's server*; `item_id` and
`item_url` are the status `uri` (its ActivityPub id, the `Thing.uri` of our server). A
status that Bridgy Fed serves for a Bluesky post is the Bluesky post, by its author's DID
(`bridges.bridgy.canonical_like`), so a like on either side counts toward one Thing.

Cursors (opaque to the server, query strings here):
- None: the newest page.
- `max_id=<favourite id>&newest=<favourite id>&pages=<n>`: older pages of the first round;
  `newest` is where the round began, kept so that every page can say where to resume.
- `min_id=<favourite id>`: only favourites newer than that (Mastodon answers those just
  above it, 40 at most, and its `prev` link moves on).
Every page's `resume_cursor` is `min_id=<the newest favourite seen>`; `next_cursor` is set
while more pages wait (older ones on a first round, at most `MAX_PAGES_PER_ROUND`; newer ones
when a page came back full). Only ids of letters, digits, `_` and `-` are taken.

Hostile answers fail the whole page with `BadPayload` (the cursor does not move, nothing of
the page is counted, the message names the item): more statuses than asked for, a status
twice, a `Link` whose cursor does not move on (a loop) or moves back, a status without an
account or a `uri`, ids with other characters, URIs with dot segments or spaces. We never
follow a `Link` URL itself, only read its cursor, so it cannot send us elsewhere.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import nh3
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from bridges.base import (
    Connection,
    ConnectKind,
    ConnectStart,
    Creator,
    Credentials,
    Like,
    LikesPage,
    NetworkConfig,
)
from bridges.bridgy import canonical_like
from bridges.callbacks import check_callback
from bridges.cursors import CursorFormat
from bridges.errors import BadPayload, ConnectFailed, TokenRevoked, UnexpectedStatus
from bridges.http import Fetched, Fetcher, check_uri, scheme_for

SCOPES = ("read:favourites", "read:accounts")
PAGE_SIZE = 40
MAX_PAGES_PER_ROUND = 50
TITLE_LENGTH = 120
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
HOST_RE = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
USER_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LINK_RE = re.compile(r"<([^>]*)>\s*;\s*rel=\"?([A-Za-z ]+)\"?")


# --- small parsers --------------------------------------------------------------------------


def parse_server(handle: str, allow_private: bool = False) -> str:
    """The base URL of the server a handle or address names: `@user@host`, `user@host`,
    `host` or `https://host/…` (ConnectFailed when it names none)."""
    text = handle.strip()
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError as error:
            raise ConnectFailed(f"not a server address: {handle!r}") from error
        host, scheme = parts.netloc, parts.scheme
        if parts.username is not None or scheme not in ("https", "http"):
            raise ConnectFailed(f"not a server address: {handle!r}")
    else:
        user, _, host = text.removeprefix("@").rpartition("@")
        if user and not USER_RE.fullmatch(user):
            raise ConnectFailed(f"not a fediverse handle: {handle!r}")
        scheme = scheme_for(host, allow_private)
    host = host.lower()
    if not HOST_RE.fullmatch(host) or ("." not in host.split(":")[0] and host != "localhost"):
        raise ConnectFailed(f"not a server name: {host!r}")
    return f"{scheme}://{host}"


def _id_key(value: str) -> tuple[int, int, str]:
    # Numeric ids (Mastodon, Pixelfed) compare as numbers, others (ULIDs) as strings.
    return (1, int(value), "") if value.isdigit() else (0, 0, value)


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise BadPayload(f"{what}: not an id we accept: {str(value)[:80]!r}")
    return value


def parse_links(header: str) -> dict[str, dict[str, str]]:
    """A Link header's targets by rel, each reduced to its query parameters."""
    links: dict[str, dict[str, str]] = {}
    for target, rels in LINK_RE.findall(header):
        try:
            query = parse_qs(urlsplit(target).query)
        except ValueError:
            continue
        params = {name: values[-1] for name, values in query.items() if values}
        for rel in rels.split():
            links[rel] = params
    return links


def html_to_text(markup: str, length: int = TITLE_LENGTH) -> str:
    """Plain text of a status's HTML (scripts and tags gone), cut to `length`."""
    text = html.unescape(nh3.clean(markup, tags=set()))
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _string(document: Mapping[str, object], key: str) -> str:
    value = document.get(key)
    return value if isinstance(value, str) else ""


# --- cursors --------------------------------------------------------------------------------


CURSOR = CursorFormat("fediverse", older="max_id", newer="min_id", check_id=_check_id)
_cursor = CURSOR.parse
newer_than = CURSOR.newer_than
_older = CURSOR.older_than


class FediverseNetwork:
    """Mastodon-API servers, each one registered with dynamically."""

    name = "fediverse"
    label = "Mastodon and other fediverse servers"
    connect_kind = ConnectKind.oauth2
    asks_handle = True
    group_claim = ""
    shared_rate_limit = False

    @classmethod
    def is_configured(cls, config: NetworkConfig) -> bool:
        return True  # nothing to register: see bridges.registry.configured

    def __init__(self, http: httpx.AsyncClient, config: NetworkConfig) -> None:
        self.config = config
        self.fetcher = Fetcher(
            http, allow_private=config.allow_private, user_agent=config.user_agent
        )

    # --- connecting ---------------------------------------------------------------------

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart:
        """Register an app on the donor's server and send them to its authorization page.
        `pending` keeps the server, the app's credentials, the PKCE verifier, the state
        and the redirect URI."""
        base = parse_server(handle, self.config.allow_private)
        form = {
            "client_name": self.config.app_name,
            "redirect_uris": redirect_uri,
            "scopes": " ".join(SCOPES),
        }
        if self.config.website:
            form["website"] = self.config.website
        app = (await self.fetcher.post_form(f"{base}/api/v1/apps", form)).json_object()
        client_id, client_secret = _string(app, "client_id"), _string(app, "client_secret")
        if not client_id or not client_secret:
            raise BadPayload(f"{base} registered an app without client credentials")
        verifier = generate_token(64)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(SCOPES),
                "state": state,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        pending = {
            "base_url": base,
            "client_id": client_id,
            "client_secret": client_secret,
            "code_verifier": verifier,
            "state": state,
            "redirect_uri": redirect_uri,
        }
        return ConnectStart(self.connect_kind, f"{base}/oauth/authorize?{query}", pending)

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection:
        """Check the state, exchange the code, and read who the donor is there."""
        if callback.get("error"):
            raise ConnectFailed(f"the server refused: {callback['error'][:200]}")
        check_callback(pending, callback, redirect_uri)
        code = callback.get("code", "")
        if not code:
            raise ConnectFailed("the server sent no authorization code")
        base = pending["base_url"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": pending["client_id"],
            "client_secret": pending["client_secret"],
            "redirect_uri": redirect_uri,
            "code_verifier": pending["code_verifier"],
            "scope": " ".join(SCOPES),
        }
        try:
            token = (await self.fetcher.post_form(f"{base}/oauth/token", form)).json_object()
        except (UnexpectedStatus, TokenRevoked) as error:
            raise ConnectFailed(f"{base} refused the authorization code: {error}") from error
        credentials = self._credentials(token, pending)
        account = await self.whoami(credentials)
        return Connection(account, credentials)

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """A creator signing in to their server proves the account is theirs."""
        connection = await self.finish_connect(pending, callback, pending.get("redirect_uri", ""))
        return connection.account

    def _credentials(self, token: Mapping[str, object], pending: Mapping[str, str]) -> Credentials:
        access = _string(token, "access_token")
        if not access:
            raise BadPayload(f"{pending['base_url']} answered a token without access_token")
        expires_at = None
        expires_in = token.get("expires_in")
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0:
            expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        scope = _string(token, "scope") or " ".join(SCOPES)
        extra = {key: pending[key] for key in ("base_url", "client_id", "client_secret")}
        return Credentials(
            access_token=access,
            refresh_token=_string(token, "refresh_token"),
            expires_at=expires_at,
            scopes=tuple(scope.split()),
            extra=extra,
        )

    async def whoami(self, credentials: Credentials) -> Creator:
        """The connected account, from verify_credentials."""
        base = credentials.extra["base_url"]
        account = (
            await self.fetcher.get(
                f"{base}/api/v1/accounts/verify_credentials", token=credentials.access_token
            )
        ).json_object()
        username = _string(account, "username")
        if not USER_RE.fullmatch(username):
            raise BadPayload(f"{base}: verify_credentials gave no username")
        host = urlsplit(base).netloc
        allow_http = self.config.allow_private
        if account.get("uri"):
            uri = check_uri(account["uri"], "account uri", allow_http)
        else:  # before Mastodon 4.2: ask WebFinger
            uri = await self._webfinger(base, f"{username}@{host}")
        url = _string(account, "url")
        profile = check_uri(url, "account url", allow_http) if url else ""
        return Creator(self.name, uri, f"@{username}@{host}", profile)

    async def _webfinger(self, base: str, acct: str) -> str:
        jrd = (
            await self.fetcher.get(
                f"{base}/.well-known/webfinger",
                params={"resource": f"acct:{acct}"},
                accept="application/jrd+json, application/json",
            )
        ).json_object()
        links = jrd.get("links")
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "self":
                return check_uri(link.get("href"), "webfinger self link", self.config.allow_private)
        raise BadPayload(f"{base}: WebFinger gave no actor for {acct}")

    async def refresh(self, credentials: Credentials) -> Credentials:
        """Mastodon's tokens do not expire; a server that gave a refresh token gets it back."""
        if not credentials.refresh_token:
            return credentials
        base = credentials.extra["base_url"]
        form = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "client_id": credentials.extra["client_id"],
            "client_secret": credentials.extra["client_secret"],
        }
        try:
            token = (await self.fetcher.post_form(f"{base}/oauth/token", form)).json_object()
        except UnexpectedStatus as error:
            raise TokenRevoked(f"{base} refused the refresh token: {error}") from error
        renewed = self._credentials(token, credentials.extra)
        if not renewed.refresh_token:
            renewed.refresh_token = credentials.refresh_token
        return renewed

    # --- likes --------------------------------------------------------------------------

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's favourites (see the module doc for the cursors)."""
        base = credentials.extra["base_url"]
        position = _cursor(cursor)
        params = {"limit": str(PAGE_SIZE)}
        for name in ("max_id", "min_id"):
            if name in position:
                params[name] = position[name]
        fetched = await self.fetcher.get(
            f"{base}/api/v1/favourites", params=params, token=credentials.access_token
        )
        likes = self._likes(fetched, base)
        links = parse_links(fetched.headers.get("link", ""))
        prev_id = links.get("prev", {}).get("min_id")
        next_id = links.get("next", {}).get("max_id")
        if "min_id" in position:
            return self._newer_page(position["min_id"], prev_id, likes, fetched)
        return self._older_page(position, prev_id, next_id, likes, fetched)

    def _newer_page(
        self, min_id: str, prev_id: str | None, likes: tuple[Like, ...], fetched: Fetched
    ) -> LikesPage:
        if not likes or prev_id is None:
            return LikesPage(likes, None, newer_than(min_id), fetched.rate)
        _check_id(prev_id, "Link prev min_id")
        if _id_key(prev_id) <= _id_key(min_id):
            raise BadPayload(f"{fetched.url}: the newer-page cursor moved back to {prev_id}")
        resume = newer_than(prev_id)
        more = len(likes) >= PAGE_SIZE
        return LikesPage(likes, resume if more else None, resume, fetched.rate)

    def _older_page(
        self,
        position: Mapping[str, str],
        prev_id: str | None,
        next_id: str | None,
        likes: tuple[Like, ...],
        fetched: Fetched,
    ) -> LikesPage:
        newest = position.get("newest") or prev_id
        if newest is not None:
            _check_id(newest, "Link prev min_id")
        resume = newer_than(newest) if newest else None
        pages = int(position.get("pages", "0")) + 1 if "max_id" in position else 1
        if next_id is None or not likes or pages >= MAX_PAGES_PER_ROUND:
            truncated = next_id is not None and bool(likes)
            return LikesPage(likes, None, resume, fetched.rate, truncated=truncated)
        _check_id(next_id, "Link next max_id")
        if "max_id" in position and _id_key(next_id) >= _id_key(position["max_id"]):
            raise BadPayload(
                f"{fetched.url}: the older-page cursor loops or moves back ({next_id})"
            )
        if newest is None:
            raise BadPayload(f"{fetched.url}: a next page without a prev link")
        return LikesPage(likes, _older(next_id, newest, pages), resume, fetched.rate)

    def _likes(self, fetched: Fetched, base: str) -> tuple[Like, ...]:
        statuses = fetched.json_array()
        if len(statuses) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: {len(statuses)} statuses for {PAGE_SIZE} asked")
        likes: list[Like] = []
        seen: set[str] = set()
        for index, status in enumerate(statuses):
            like = self.parse_status(status, base, f"{fetched.url} item {index}")
            if like.like_id in seen:
                raise BadPayload(f"{fetched.url}: status {like.like_id} listed twice")
            seen.add(like.like_id)
            likes.append(like)
        return tuple(likes)

    def parse_status(self, status: object, base: str, where: str = "status") -> Like:
        """A favourited status as a Like (BadPayload when any part we need is wrong)."""
        if not isinstance(status, dict):
            raise BadPayload(f"{where}: not an object")
        allow_http = self.config.allow_private
        status_id = _check_id(status.get("id"), f"{where} id")
        uri = check_uri(status.get("uri"), f"{where} uri", allow_http)
        account = status.get("account")
        if not isinstance(account, dict):
            raise BadPayload(f"{where}: status {status_id} has no account")
        creator = self._author(account, uri, base, f"{where} account", allow_http)
        title = html_to_text(_string(status, "spoiler_text")) or html_to_text(
            _string(status, "content")
        )
        return canonical_like(Like(status_id, uri, uri, creator, title, None))

    def _author(
        self,
        account: Mapping[str, object],
        status_uri: str,
        base: str,
        where: str,
        allow_http: bool,
    ) -> Creator:
        acct = _string(account, "acct")
        user, _, domain = acct.partition("@")
        if not USER_RE.fullmatch(user) or (domain and not HOST_RE.fullmatch(domain)):
            raise BadPayload(f"{where}: acct refused {acct[:80]!r}")
        handle = f"@{user}@{domain or urlsplit(base).netloc}"
        if account.get("uri"):
            actor = check_uri(account["uri"], f"{where} uri", allow_http)
        else:  # before Mastodon 4.2: its status URIs are <actor>/statuses/<id>
            prefix, marker, _ = status_uri.partition("/statuses/")
            if not marker or not urlsplit(prefix).path.startswith("/users/"):
                raise BadPayload(f"{where}: an author without an actor URI")
            actor = prefix
        url = _string(account, "url")
        profile = check_uri(url, f"{where} url", allow_http) if url else ""
        return Creator(self.name, actor, handle, profile)

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A status by its id on the donor's server (a Like's `like_id`), read without the
        token (our scopes do not cover statuses; public ones need none)."""
        base = credentials.extra["base_url"]
        status_id = _check_id(item_id, "status id")
        fetched = await self.fetcher.get(f"{base}/api/v1/statuses/{status_id}")
        return self.parse_status(fetched.json_object(), base, fetched.url)
