"""What every network with one registered OAuth 2 app shares (SoundCloud, Vimeo, X, GitHub,
YouTube, Tumblr, Dailymotion): the authorization-code flow with a state and, where the
network takes it, PKCE (S256); the token exchange and refresh; and reading the API with the
donor's token. A network module subclasses `OAuth2Network`, names its endpoints and scopes,
and writes `whoami`, `list_likes` and `resolve_item`.

The admin registers the app on the network and puts its id and secret in config.toml
(`[bridges.<name>] client_id`, `client_secret`); without both, the network is not offered.
`base_url` in the same table moves every endpoint of the network to another origin, path
kept (tests point it at a fake on loopback).

As in `bridges.fediverse`, Authlib gives the PKCE pieces and no client of its own: every
request goes over the instance's one HTTP client behind `bridges.http.Fetcher`.

Tokens: a token past its `expires_at` (less a minute) is not sent; `TokenExpired` is raised so
the poller refreshes it first. A 401 on a token that has a refresh token is `TokenExpired`
too (networks say "invalid token" for both), and the poller's one refresh decides: a refused
refresh is `TokenRevoked`, the donor must connect again.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

import httpx
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
from bridges.callbacks import check_callback
from bridges.errors import (
    BadPayload,
    ConnectFailed,
    TokenExpired,
    TokenRevoked,
    UnexpectedStatus,
)
from bridges.http import Fetched, Fetcher

EXPIRY_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class Endpoints:
    """The network's own addresses (production); `base_url` moves their origin."""

    authorize: str  # where the donor is sent to grant access
    token: str  # where codes and refresh tokens are exchanged
    api: str  # the API root the module's paths are under


def string(document: Mapping[str, object], key: str) -> str:
    """A string field, "" when absent; a field of another type is a bad payload."""
    value = document.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadPayload(f"{key!r} is not a string")
    return str(value)


class OAuth2Network:
    """A network reached with one OAuth 2 app the admin registered (see the module doc)."""

    name: str
    label: str
    endpoints: ClassVar[Endpoints]
    scopes: ClassVar[tuple[str, ...]] = ()
    scope_separator: ClassVar[str] = " "
    pkce: ClassVar[bool] = True
    # How the app proves itself at the token endpoint: "body" (client_id and client_secret
    # in the form) or "basic" (HTTP Basic, RFC 6749 section 2.3.1).
    client_auth: ClassVar[str] = "body"
    # More parameters for the authorization page (Google's access_type=offline, say).
    authorize_params: ClassVar[Mapping[str, str]] = {}
    connect_kind = ConnectKind.oauth2
    asks_handle = False
    group_claim = ""
    shared_rate_limit = False

    def __init__(self, http: httpx.AsyncClient, config: NetworkConfig) -> None:
        self.config = config
        self.fetcher = Fetcher(
            http, allow_private=config.allow_private, user_agent=config.user_agent
        )

    @classmethod
    def is_configured(cls, config: NetworkConfig) -> bool:
        return bool(config.client_id and config.client_secret)

    def url(self, default: str) -> str:
        """`default` (one of the network's addresses), on `base_url`'s origin when set."""
        if not self.config.base_url:
            return default
        parts = urlsplit(default)
        moved = self.config.base_url.rstrip("/") + parts.path
        return f"{moved}?{parts.query}" if parts.query else moved

    def api_url(self, path: str) -> str:
        """An API path ("/me/likes") or an absolute URL the API gave (a next-page link),
        which must be under the API root: a link elsewhere is a bad payload."""
        root = self.url(self.endpoints.api).rstrip("/")
        if path.startswith("/"):
            return root + path
        if path == root or path.startswith(root + "/") or path.startswith(root + "?"):
            return path
        raise BadPayload(f"{self.name}: a link outside the API: {path[:200]!r}")

    # --- connecting ---------------------------------------------------------------------

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart:
        """Send the donor to the network's authorization page. `handle` is not needed:
        the network says who signed in."""
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if self.scopes:
            params["scope"] = self.scope_separator.join(self.scopes)
        pending = {"state": state, "redirect_uri": redirect_uri}
        if self.pkce:
            verifier = generate_token(64)
            params["code_challenge"] = create_s256_code_challenge(verifier)
            params["code_challenge_method"] = "S256"
            pending["code_verifier"] = verifier
        params.update(self.authorize_params)
        target = f"{self.url(self.endpoints.authorize)}?{urlencode(params)}"
        return ConnectStart(self.connect_kind, target, pending)

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection:
        """Check the state, exchange the code, and read who the donor is there."""
        if callback.get("error"):
            said = callback.get("error_description") or callback["error"]
            raise ConnectFailed(f"{self.label} refused: {said[:200]}")
        check_callback(pending, callback, redirect_uri)
        code = callback.get("code", "")
        if not code:
            raise ConnectFailed(f"{self.label} sent no authorization code")
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if "code_verifier" in pending:
            form["code_verifier"] = pending["code_verifier"]
        try:
            token = await self._token(form)
        except (UnexpectedStatus, TokenRevoked) as error:
            raise ConnectFailed(f"{self.label} refused the authorization code: {error}") from error
        credentials = self.credentials_from(token)
        return Connection(await self.whoami(credentials), credentials)

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """A creator signing in to the network proves the account is theirs."""
        connection = await self.finish_connect(pending, callback, pending.get("redirect_uri", ""))
        return connection.account

    async def refresh(self, credentials: Credentials) -> Credentials:
        """A new access token for the refresh token; a network that gave none (tokens that do
        not expire, or a donor who must sign in again) is asked nothing."""
        if not credentials.refresh_token:
            raise TokenRevoked(f"{self.label} gave no refresh token: connect again")
        form = {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token}
        try:
            token = await self._token(form)
        except (UnexpectedStatus, TokenRevoked, TokenExpired) as error:
            raise TokenRevoked(f"{self.label} refused the refresh token: {error}") from error
        renewed = self.credentials_from(token, credentials.extra)
        if not renewed.refresh_token:  # the old one stays valid where no new one is given
            renewed.refresh_token = credentials.refresh_token
        return renewed

    async def _token(self, form: dict[str, str]) -> dict[str, object]:
        headers: dict[str, str] = {}
        if self.client_auth == "basic":
            pair = f"{self.config.client_id}:{self.config.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form = {**form, "client_id": self.config.client_id}
            form["client_secret"] = self.config.client_secret
        fetched = await self.fetcher.post_form(
            self.url(self.endpoints.token), form, headers=headers
        )
        return fetched.json_object()

    def credentials_from(
        self, token: Mapping[str, object], extra: Mapping[str, str] | None = None
    ) -> Credentials:
        access = string(token, "access_token")
        if not access:
            raise BadPayload(f"{self.label} answered a token without access_token")
        expires_at = None
        expires_in = token.get("expires_in")
        if isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit():
            expires_in = int(expires_in)
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0:
            expires_at = datetime.now(UTC) + timedelta(seconds=min(expires_in, 10 * 365 * 86400))
        scope = string(token, "scope")
        granted = tuple(scope.replace(",", " ").split()) if scope else self.scopes
        return Credentials(
            access_token=access,
            refresh_token=string(token, "refresh_token"),
            expires_at=expires_at,
            scopes=granted,
            extra=dict(extra or {}),
        )

    # --- reading the API ----------------------------------------------------------------

    async def api_get(
        self,
        credentials: Credentials,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        accept: str = "application/json",
        expect: tuple[int, ...] = (200,),
    ) -> Fetched:
        """GET an API path (or a next-page link under the API root) with the donor's token."""
        expires_at = credentials.expires_at
        if expires_at is not None and datetime.now(UTC) >= expires_at - EXPIRY_MARGIN:
            raise TokenExpired(f"the {self.label} token expired at {expires_at:%Y-%m-%d %H:%M}")
        try:
            return await self.fetcher.get(
                self.api_url(path),
                params=params,
                token=credentials.access_token,
                accept=accept,
                expect=expect,
            )
        except TokenRevoked as error:
            if credentials.refresh_token:
                raise TokenExpired(str(error)) from error
            raise

    # --- what each network writes -------------------------------------------------------

    async def whoami(self, credentials: Credentials) -> Creator:
        raise NotImplementedError

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        raise NotImplementedError

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        raise NotImplementedError
