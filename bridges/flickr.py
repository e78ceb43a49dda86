"""Flickr: the photos a donor faved, through `flickr.favorites.getList`.

Connecting: OAuth 1.0a, three-legged, every request signed with HMAC-SHA1 (the only method
Flickr takes) with the app's key and secret (config.toml `[bridges.flickr] client_id`,
`client_secret`):
1. `GET https://www.flickr.com/services/oauth/request_token` with `oauth_callback` (our
   redirect URI plus the connection's `state`) answers a request token and its secret
   (`oauth_callback_confirmed=true&oauth_token=…&oauth_token_secret=…`). Both go in `pending`,
   which the server keeps encrypted: the secret signs step 3.
2. The donor grants read access at `https://www.flickr.com/services/oauth/authorize
   ?oauth_token=…&perms=read`; Flickr sends them back with `oauth_token` and `oauth_verifier`.
3. `GET https://www.flickr.com/services/oauth/access_token`, signed with the request token and
   the verifier, answers the access token, its secret and the account
   (`user_nsid`, `username`, `fullname`).
Then `flickr.test.login` says whom the token signs in (the claim of a creator is this same
flow). Flickr's tokens do not expire: `refresh` changes nothing; a revoked one is code 98.

Authlib's `ClientAuth` only signs (it makes the `Authorization: OAuth …` header over the
exact URL sent); every request goes over the instance's client behind `bridges.http.Fetcher`.
Credentials: `access_token` is the OAuth token, `extra["token_secret"]` its secret,
`extra["nsid"]` the account.

The API: `GET https://api.flickr.com/services/rest?method=…&format=json&nojsoncallback=1`.
Flickr reports its errors in a 200: `{"stat": "fail", "code": N, "message": …}`. Code 98
(invalid auth token) and 99 (insufficient permissions: read access withdrawn) are
`TokenRevoked`, 105 (service unavailable) is `NetworkDown`, any other is `BadPayload` with
Flickr's message (96/97 mean our signature was refused: a wrong key or secret). The limit is
3,600 calls an hour per key, one budget for the whole instance (`shared_rate_limit`).

A Like: Flickr keeps no id for a fave: `like_id` and `item_id` are the photo id, `item_url`
`https://www.flickr.com/photos/<owner NSID>/<photo id>` (stable ids only); `liked_at` is the
photo's `date_faved` (Unix seconds). The creator is the `owner` NSID, with the path alias
(`extras=path_alias`) or the owner's name (`owner_name`) as handle, and
`https://www.flickr.com/photos/<NSID>/` as profile.

Cursors (query strings, ours). `getList` answers newest fave first, `page` by `page`, with
`min_fave_date`/`max_fave_date` bounds (Unix seconds):
- None: a first round, page 1.
- `min=<date>&seen=<ids>`: a later round: faves from that date on, less the photos of that
  very second already read (`seen`).
- `page=<n>&max=<date>&top=<ids>[&min=…&seen=…]`: the next page of a round; `max` pins the
  round to the faves it began with, so that newer faves do not push photos onto pages
  already read; `max`/`top` are what every page's `resume_cursor` keeps.
A round reads at most `MAX_PAGES_PER_ROUND` pages. A fave taken back mid-round may move a
photo onto a page already read (it is then met in no later round either): Flickr offers no
stabler paging.

Hostile answers fail the page with `BadPayload`: a shape other than
`{"photos": {"page", "pages", "photo": [...]}, "stat": "ok"}`, another page than asked, more
photos than asked, a photo twice, faves out of order or outside the dates asked, ids or
NSIDs with other characters.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.oauth1.rfc5849.client_auth import ClientAuth

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
from bridges.callbacks import check_callback
from bridges.errors import (
    BadPayload,
    ConnectFailed,
    NetworkDown,
    TokenExpired,
    TokenRevoked,
    UnexpectedStatus,
)
from bridges.http import Fetched, Fetcher, check_uri
from bridges.rounds import number, one_line

REQUEST_TOKEN = "https://www.flickr.com/services/oauth/request_token"
AUTHORIZE = "https://www.flickr.com/services/oauth/authorize"
ACCESS_TOKEN = "https://www.flickr.com/services/oauth/access_token"
API = "https://api.flickr.com/services/rest"
WEB = "https://www.flickr.com"
PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 50
MAX_SEEN = 20  # photos of one second a cursor remembers
NSID_RE = re.compile(r"[0-9]{1,20}@N[0-9]{2}")
ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN_RE = re.compile(r"[A-Za-z0-9_.~-]{1,200}")
DATE_RE = re.compile(r"[0-9]{1,11}")
REVOKED_CODES = {98, 99}
DOWN_CODES = {105}


def _photo_id(value: object, what: str) -> str:
    return number(value, what, "not a photo id we accept")


def _nsid(value: object, what: str) -> str:
    if not isinstance(value, str) or not NSID_RE.fullmatch(value):
        raise BadPayload(f"{what}: not an NSID we accept: {str(value)[:80]!r}")
    return value


def _number(value: object, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and DATE_RE.fullmatch(value):
        return int(value)
    raise BadPayload(f"{what}: not a number: {str(value)[:80]!r}")


def _text(value: object) -> str:
    """Flickr's text fields: a string, or `{"_content": string}`; "" for anything else."""
    if isinstance(value, dict):
        value = value.get("_content")
    return value if isinstance(value, str) else ""


def photo_url(nsid: str, photo_id: str) -> str:
    return f"{WEB}/photos/{nsid}/{photo_id}"


def creator_for(nsid: str, alias: str = "", name: str = "") -> Creator:
    handle = alias if ALIAS_RE.fullmatch(alias) else one_line(name, 64)
    return Creator("flickr", nsid, handle, f"{WEB}/photos/{nsid}/")


def _ids(value: str, what: str) -> tuple[str, ...]:
    ids = tuple(value.split(",")) if value else ()
    if len(ids) > MAX_SEEN:
        raise BadPayload(f"not a Flickr cursor: too many {what}")
    for item in ids:
        _photo_id(item, f"cursor {what}")
    return ids


def parse_cursor(cursor: str | None) -> dict[str, str]:
    """A cursor we wrote (see the module doc); anything else is a bad payload."""
    if cursor is None:
        return {}
    try:
        query = parse_qs(cursor, strict_parsing=True, keep_blank_values=True)
    except ValueError as error:
        raise BadPayload(f"not a Flickr cursor: {cursor[:200]!r}") from error
    params = {name: values[-1] for name, values in query.items()}
    if set(params) - {"min", "seen", "page", "max", "top"}:
        raise BadPayload(f"not a Flickr cursor: {cursor[:200]!r}")
    for name in ("min", "max", "page"):
        if name in params and not DATE_RE.fullmatch(params[name]):
            raise BadPayload(f"not a Flickr cursor: {cursor[:200]!r}")
    for name in ("seen", "top"):
        _ids(params.get(name, ""), name)
    if ("min" in params) != ("seen" in params):
        raise BadPayload(f"not a Flickr cursor: {cursor[:200]!r}")
    continuing = {"page", "max", "top"}
    if continuing & set(params) and not continuing <= set(params):
        raise BadPayload(f"not a Flickr cursor: {cursor[:200]!r}")
    if not params or ("page" in params and int(params["page"]) < 2):
        raise BadPayload(f"not a Flickr cursor: {cursor[:200]!r}")
    return params


class FlickrNetwork:
    """Flickr, with the one app the admin registered (see the module doc)."""

    name = "flickr"
    label = "Flickr"
    connect_kind = ConnectKind.oauth1
    asks_handle = False
    group_claim = ""
    shared_rate_limit = True  # 3,600 calls an hour per API key

    @classmethod
    def is_configured(cls, config: NetworkConfig) -> bool:
        return bool(config.client_id and config.client_secret)

    def __init__(self, http: httpx.AsyncClient, config: NetworkConfig) -> None:
        self.config = config
        self.fetcher = Fetcher(
            http, allow_private=config.allow_private, user_agent=config.user_agent
        )

    def url(self, default: str) -> str:
        """`default` (one of Flickr's addresses), on `base_url`'s origin when set."""
        if not self.config.base_url:
            return default
        return self.config.base_url.rstrip("/") + urlsplit(default).path

    # --- signing ------------------------------------------------------------------------

    def _signed_get_headers(
        self,
        url: str,
        token: str = "",
        token_secret: str = "",
        *,
        callback: str = "",
        verifier: str = "",
    ) -> dict[str, str]:
        """The `Authorization: OAuth …` header for a GET of exactly `url` (query included)."""
        auth = ClientAuth(
            self.config.client_id,
            self.config.client_secret,
            token=token or None,
            token_secret=token_secret or None,
            redirect_uri=callback or None,
            verifier=verifier or None,
        )
        _, headers, _ = auth.sign("GET", url, {}, b"")
        return {"Authorization": str(headers["Authorization"])}

    async def _oauth_step(
        self, endpoint: str, token: str = "", secret: str = "", **oauth: str
    ) -> dict[str, str]:
        """One signed request of the token dance; its form-encoded answer."""
        url = self.url(endpoint)
        headers = self._signed_get_headers(url, token, secret, **oauth)
        try:
            fetched = await self.fetcher.get(url, accept="*/*", headers=headers, expect=(200, 401))
        except (UnexpectedStatus, TokenRevoked, TokenExpired) as error:
            raise ConnectFailed(f"Flickr refused the OAuth request: {error}") from error
        try:
            answer = parse_qs(fetched.text(), strict_parsing=True)
        except ValueError as error:
            if fetched.status == 401:
                raise ConnectFailed("Flickr refused the OAuth request") from error
            raise BadPayload(f"{fetched.url}: not a form-encoded answer") from error
        found = {name: values[-1] for name, values in answer.items()}
        if fetched.status == 401:  # "oauth_problem=signature_invalid", "token_rejected", …
            problem = one_line(found.get("oauth_problem", "unknown"), 80)
            raise ConnectFailed(f"Flickr refused the OAuth request: {problem}")
        return found

    # --- connecting ---------------------------------------------------------------------

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart:
        """Get a request token and send the donor to Flickr's authorization page. `pending`
        keeps the request token, its secret, the state and the redirect URI."""
        joiner = "&" if "?" in redirect_uri else "?"
        callback = f"{redirect_uri}{joiner}{urlencode({'state': state})}"
        answer = await self._oauth_step(REQUEST_TOKEN, callback=callback)
        token, secret = answer.get("oauth_token", ""), answer.get("oauth_token_secret", "")
        if answer.get("oauth_callback_confirmed") != "true":
            raise BadPayload("Flickr did not confirm the callback")
        if not TOKEN_RE.fullmatch(token) or not TOKEN_RE.fullmatch(secret):
            raise BadPayload("Flickr answered a request token we cannot use")
        query = urlencode({"oauth_token": token, "perms": "read"})
        pending = {
            "state": state,
            "redirect_uri": redirect_uri,
            "oauth_token": token,
            "oauth_token_secret": secret,
        }
        return ConnectStart(self.connect_kind, f"{self.url(AUTHORIZE)}?{query}", pending)

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection:
        """Check the state and the request token, exchange it with the verifier for an
        access token, and ask `flickr.test.login` who signed in."""
        if callback.get("denied") or callback.get("error"):
            raise ConnectFailed("Flickr refused: the donor did not authorize the app")
        check_callback(pending, callback, redirect_uri)
        token = pending.get("oauth_token", "")
        if not token or not hmac.compare_digest(callback.get("oauth_token", ""), token):
            raise ConnectFailed("Flickr sent back another request token")
        verifier = callback.get("oauth_verifier", "")
        if not verifier:
            raise ConnectFailed("Flickr sent no verifier")
        answer = await self._oauth_step(
            ACCESS_TOKEN, token, pending.get("oauth_token_secret", ""), verifier=verifier
        )
        access, secret = answer.get("oauth_token", ""), answer.get("oauth_token_secret", "")
        if not TOKEN_RE.fullmatch(access) or not TOKEN_RE.fullmatch(secret):
            raise BadPayload("Flickr answered an access token we cannot use")
        nsid = _nsid(answer.get("user_nsid"), "access token user_nsid")
        credentials = Credentials(
            access_token=access,
            scopes=("read",),
            extra={"token_secret": secret, "nsid": nsid},
        )
        account = await self.whoami(credentials)
        if account.external_id != nsid:
            raise BadPayload("flickr.test.login names another account than the token")
        return Connection(account, credentials)

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """A creator signing in to Flickr proves the account is theirs."""
        connection = await self.finish_connect(pending, callback, pending.get("redirect_uri", ""))
        return connection.account

    async def refresh(self, credentials: Credentials) -> Credentials:
        """Flickr's tokens do not expire: nothing to renew."""
        return credentials

    # --- the API ------------------------------------------------------------------------

    async def call(
        self, credentials: Credentials, method: str, params: Mapping[str, str] | None = None
    ) -> tuple[dict[str, object], Fetched]:
        """A signed API call; its JSON answer once `stat` is "ok" (see the module doc for
        the error codes)."""
        query = {
            "method": method,
            "api_key": self.config.client_id,
            "format": "json",
            "nojsoncallback": "1",
            **(params or {}),
        }
        url = f"{self.url(API)}?{urlencode(query)}"
        headers = self._signed_get_headers(
            url, credentials.access_token, credentials.extra.get("token_secret", "")
        )
        fetched = await self.fetcher.get(url, headers=headers)
        document = fetched.json_object()
        stat = document.get("stat")
        if stat == "ok":
            return document, fetched
        if stat != "fail":
            raise BadPayload(f"{method}: an answer without stat")
        code = document.get("code")
        message = _text(document.get("message"))[:200]
        said = f"Flickr {method} failed ({code}): {message}"
        if code in REVOKED_CODES:
            raise TokenRevoked(said)
        if code in DOWN_CODES:
            raise NetworkDown(said)
        raise BadPayload(said)

    async def whoami(self, credentials: Credentials) -> Creator:
        """The signed-in account, from `flickr.test.login`."""
        document, _ = await self.call(credentials, "flickr.test.login")
        user = document.get("user")
        if not isinstance(user, dict):
            raise BadPayload("flickr.test.login answered no user")
        nsid = _nsid(user.get("id"), "flickr.test.login user id")
        return creator_for(nsid, _text(user.get("path_alias")), _text(user.get("username")))

    # --- likes --------------------------------------------------------------------------

    def parse_photo(self, photo: object, where: str) -> tuple[Like, int]:
        """A faved photo as a Like, with its `date_faved`."""
        if not isinstance(photo, dict):
            raise BadPayload(f"{where}: not an object")
        photo_id = _photo_id(photo.get("id"), f"{where} id")
        nsid = _nsid(photo.get("owner"), f"{where} owner")
        faved = _number(photo.get("date_faved"), f"{where} date_faved")
        creator = creator_for(nsid, _text(photo.get("pathalias")), _text(photo.get("ownername")))
        url = check_uri(photo_url(nsid, photo_id), f"{where} url")
        title = one_line(_text(photo.get("title")))
        return Like(photo_id, photo_id, url, creator, title, datetime.fromtimestamp(faved, UTC)), (
            faved
        )

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's faves (see the module doc for the cursors)."""
        position = parse_cursor(cursor)
        page = int(position.get("page", "1"))
        params = {
            "per_page": str(PAGE_SIZE),
            "page": str(page),
            "extras": "owner_name,path_alias",
        }
        if "min" in position:
            params["min_fave_date"] = position["min"]
        if "max" in position:
            params["max_fave_date"] = position["max"]
        document, fetched = await self.call(credentials, "flickr.favorites.getList", params)
        photos, pages = self._page(document, page, position, fetched.url)
        seen = set(_ids(position.get("seen", ""), "seen"))
        low = int(position["min"]) if "min" in position else None
        likes = tuple(like for like, faved in photos if not (faved == low and like.like_id in seen))
        if "max" in position:
            top_date, top_ids = position["max"], position["top"]
        elif photos:
            newest = photos[0][1]
            top_date = str(newest)
            top_ids = ",".join(like.like_id for like, faved in photos if faved == newest)
            top_ids = ",".join(top_ids.split(",")[:MAX_SEEN])
        else:
            top_date, top_ids = position.get("min", ""), position.get("seen", "")
        resume = urlencode({"min": top_date, "seen": top_ids}) if top_date else None
        if not photos or page >= pages or page >= MAX_PAGES_PER_ROUND:
            truncated = bool(photos) and page < pages
            return LikesPage(likes, None, resume, fetched.rate, truncated=truncated)
        following = {"page": str(page + 1), "max": top_date, "top": top_ids}
        if "min" in position:
            following.update(min=position["min"], seen=position["seen"])
        return LikesPage(likes, urlencode(following), resume, fetched.rate)

    def _page(
        self,
        document: Mapping[str, object],
        page: int,
        position: Mapping[str, str],
        where: str,
    ) -> tuple[list[tuple[Like, int]], int]:
        listing = document.get("photos")
        if not isinstance(listing, dict) or not isinstance(listing.get("photo"), list):
            raise BadPayload(f"{where}: no photos")
        answered = _number(listing.get("page"), f"{where} page")
        pages = _number(listing.get("pages"), f"{where} pages")
        if answered != page:
            raise BadPayload(f"{where}: page {answered} answered for page {page}")
        items = listing["photo"]
        if len(items) > PAGE_SIZE:
            raise BadPayload(f"{where}: {len(items)} photos for {PAGE_SIZE} asked")
        low = int(position["min"]) if "min" in position else 0
        high = int(position["max"]) if "max" in position else None
        photos: list[tuple[Like, int]] = []
        ids: set[str] = set()
        for index, photo in enumerate(items):
            like, faved = self.parse_photo(photo, f"{where} item {index}")
            if like.like_id in ids:
                raise BadPayload(f"{where}: photo {like.like_id} listed twice")
            if photos and faved > photos[-1][1]:
                raise BadPayload(f"{where}: photo {like.like_id} out of order")
            if faved < low or (high is not None and faved > high):
                raise BadPayload(f"{where}: photo {like.like_id} faved outside the dates asked")
            ids.add(like.like_id)
            photos.append((like, faved))
        return photos, pages

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A photo by its id, from `flickr.photos.getInfo` (no fave time there)."""
        photo_id = _photo_id(item_id, "photo id")
        document, fetched = await self.call(
            credentials, "flickr.photos.getInfo", {"photo_id": photo_id}
        )
        photo = document.get("photo")
        if not isinstance(photo, dict) or not isinstance(photo.get("owner"), dict):
            raise BadPayload(f"{fetched.url}: no photo with an owner")
        if _photo_id(photo.get("id"), "photo id") != photo_id:
            raise BadPayload(f"{fetched.url}: answered another photo")
        owner = photo["owner"]
        nsid = _nsid(owner.get("nsid"), "photo owner")
        creator = creator_for(nsid, _text(owner.get("path_alias")), _text(owner.get("username")))
        url = check_uri(photo_url(nsid, photo_id), "photo url")
        return Like(photo_id, photo_id, url, creator, one_line(_text(photo.get("title"))))
