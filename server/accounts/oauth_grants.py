"""Authlib's authorization server over rows read beforehand.

Authlib's hooks are synchronous and the database is not: `oauth_store.Prefetched` loads
every row a request can need (the client, the presented code or refresh token, the user
of a password grant) before Authlib runs, the hooks read those rows and record what to
write, and the caller writes it in the same transaction once Authlib has answered.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import InvalidRequestError

from server.accounts.tokens import KNOWN_SCOPES, hash_token, scopes_within
from server.models import Account, ApiToken, OAuthApplication, OAuthCode

OOB = "urn:ietf:wg:oauth:2.0:oob"
CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token", "password")
DEFAULT_SCOPE = "read"


@dataclass(frozen=True)
class OAuthRequest:
    """What Authlib reads of an HTTP request: parameters from the query and the body (as
    pairs, so a repeated one shows) and the headers (lower-case names)."""

    method: str
    params: Sequence[tuple[str, str]]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class OAuthAnswer:
    status: int
    body: Mapping[str, Any]
    headers: Sequence[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in params:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: OAuthRequest) -> None:
        # Authlib refuses plain http; the instance decides its own scheme.
        super().__init__(request.method, "https://instance/oauth", headers=request.headers)
        self.payload = _Payload(request.params)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


def scope_set(scopes: str | None) -> frozenset[str]:
    return frozenset((scopes or "").replace(",", " ").split())


class Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: OAuthApplication) -> None:
        self.row = row
        self.redirect_uris = [uri for uri in row.redirect_uris.split("\n") if uri]
        self.scopes = scope_set(row.scopes)

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scopes asked for, if the app registered them (none asked: `read`)."""
        requested = scope_set(scope) or scope_set(DEFAULT_SCOPE)
        if not requested <= KNOWN_SCOPES or not scopes_within(requested, self.scopes):
            return None
        return " ".join(sorted(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(hash_token(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class IssuedToken(TokenMixin):  # type: ignore[misc]
    """A stored token, as the refresh grant and the revocation endpoint see it."""

    def __init__(self, row: ApiToken) -> None:
        self.row = row

    def check_client(self, client: Client) -> bool:
        return self.row.application_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scopes

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


@dataclass
class Issued:
    """A token Authlib made, to be stored: its hashes, never the token itself."""

    token_hash: str
    refresh_hash: str | None
    scopes: str
    application_id: int
    account_id: int | None


@dataclass
class Prefetched:
    """The rows one request may touch, read before Authlib runs; and what it changed."""

    now: datetime
    client: Client | None = None
    code: OAuthCode | None = None
    refresh: ApiToken | None = None
    revocable: ApiToken | None = None
    user: Account | None = None
    password_grant: bool = False
    new_code: tuple[str, OAuthCode] | None = None  # the code given out, and its row
    issued: Issued | None = None
    used_code: OAuthCode | None = None
    retired: ApiToken | None = None  # a rotated refresh token's row, or a revoked token


class CodeChallengeS256(CodeChallenge):  # type: ignore[misc]
    """PKCE as Mastodon has it: S256 only, and the method must be named."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


def _store(grant: Any) -> Prefetched:
    store: Prefetched = grant.server.store
    return store


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    CODE_SECONDS = 600

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        store = _store(self)
        data = request.payload.data
        row = OAuthCode(
            code_hash=hash_token(code),
            application_id=int(request.client.row.id or 0),
            account_id=int(request.user.id or 0),
            redirect_uri=data.get("redirect_uri") or request.client.get_default_redirect_uri(),
            scopes=request.scope,
            code_challenge=data.get("code_challenge") or "",
            code_challenge_method=data.get("code_challenge_method") or "",
            expires_at=store.now + timedelta(seconds=self.CODE_SECONDS),
        )
        store.new_code = (code, row)

    def query_authorization_code(self, code: str, client: Client) -> _Code | None:
        row = _store(self).code
        if row is None or not hmac.compare_digest(row.code_hash, hash_token(code)):
            return None
        if row.application_id != client.row.id or row.expires_at <= _store(self).now:
            return None
        return _Code(row)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        _store(self).used_code = authorization_code.row

    def authenticate_user(self, authorization_code: _Code) -> Account | None:
        user = _store(self).user
        return user if user is not None and user.id == authorization_code.row.account_id else None


class _Code:
    def __init__(self, row: OAuthCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method or None

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scopes


class ClientGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotated: each refresh token works once

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        row = _store(self).refresh
        if row is None or row.revoked_at is not None or row.refresh_hash is None:
            return None
        if not hmac.compare_digest(row.refresh_hash, hash_token(refresh_token)):
            return None
        return IssuedToken(row)

    def authenticate_user(self, refresh_token: IssuedToken) -> Account | None:
        user = _store(self).user
        return user if user is not None and user.id == refresh_token.row.account_id else None

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        _store(self).retired = refresh_token.row


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    def authenticate_user(self, username: str, password: str) -> Account:
        user = _store(self).user  # checked against the password while prefetching
        if user is None:  # RFC 6749 5.2: wrong owner credentials are an invalid grant
            raise InvalidGrantError("Invalid username or password.")
        return user


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        row = self.server.store.revocable
        if row is None:
            return None
        digest = hash_token(token_string)
        if digest not in (row.token_hash, row.refresh_hash):
            return None
        return IssuedToken(row)

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        self.server.store.retired = token.row


class Server(AuthorizationServer):  # type: ignore[misc]
    """One request's authorization server, over its prefetched rows."""

    def __init__(self, store: Prefetched) -> None:
        super().__init__(scopes_supported=sorted(KNOWN_SCOPES))
        self.store = store
        self.register_grant(CodeGrant, [CodeChallengeS256(required=False)])
        self.register_grant(ClientGrant)
        self.register_grant(RefreshGrant)
        if store.password_grant:
            self.register_grant(PasswordGrant)
        self.register_endpoint(Revocation)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> Client | None:
        client = self.store.client
        return client if client is not None and client.get_client_id() == client_id else None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: OAuthRequest | OAuth2Request) -> OAuth2Request:
        return request if isinstance(request, OAuth2Request) else _Request(request)

    def handle_response(
        self, status: int, body: Any, headers: Sequence[tuple[str, str]]
    ) -> OAuthAnswer:
        return OAuthAnswer(status, body if isinstance(body, dict) else {}, list(headers))

    def _generate(
        self,
        grant_type: str,
        client: Client,
        user: Account | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError()
        token: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "scope": granted,
            "created_at": int(time.time()),
        }
        if include_refresh_token and user is not None:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def save_token(self, token: Mapping[str, Any], request: OAuth2Request) -> None:
        refresh = token.get("refresh_token")
        user = request.user
        self.store.issued = Issued(
            token_hash=hash_token(token["access_token"]),
            refresh_hash=hash_token(refresh) if refresh else None,
            scopes=token["scope"],
            application_id=int(request.client.row.id or 0),
            account_id=int(user.id) if user is not None and user.id is not None else None,
        )
