"""The OAuth 2 side every fake network with one registered app shares (SoundCloud, Vimeo, X,
GitHub, YouTube, Tumblr, Dailymotion): an authorization page that approves at once as the
account a test chose (or refuses, as a donor who clicks "deny"), a token endpoint (code with
or without PKCE, refresh), and bearer checks for the API routes, as RFC 6749 and RFC 7636
describe them and as each network documents its own paths.

A network's fake holds one `OAuth2Provider`, mounts `routes()` beside its API routes and asks
`authenticate(request)` for the account a bearer token stands for. Control endpoints (JSON):
- POST /_test/authorize_as {"user"}: whom the next authorization signs in
- POST /_test/token {"user", "state": "expired" | "revoked"}: that account's tokens stop working
  (an expired one still refreshes; a revoked one and its refresh token do not)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "likewise-test-client"
CLIENT_SECRET = "likewise-test-secret"


@dataclass
class Token:
    user: str
    state: str = "active"  # "expired", "revoked"
    expires_at: float = 0.0  # 0: never


@dataclass
class Grant:
    redirect_uri: str
    challenge: str
    user: str
    scope: str


@dataclass
class OAuth2Provider:
    """See the module doc. `client_auth` is how the token endpoint takes the app's secret."""

    authorize_path: str
    token_path: str
    user: str = "donor"
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    pkce_required: bool = False
    client_auth: str = "body"  # "body" or "basic"
    expires_in: int = 0  # seconds; 0: tokens without expiry and without refresh tokens
    deny: bool = False  # the authorization page answers error=access_denied
    # How the network's token error looks (most: {"error": "invalid_grant"}).
    token_fields: Mapping[str, Any] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> access token
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def routes(self) -> list[Route]:
        return [
            Route(self.authorize_path, self._authorize),
            Route(self.token_path, self._token, methods=["POST"]),
            Route("/_test/authorize_as", self._control_authorize_as, methods=["POST"]),
            Route("/_test/token", self._control_token, methods=["POST"]),
        ]

    # --- for the network's API routes ---------------------------------------------------

    def authenticate(self, request: Request) -> str | Response:
        """The account the bearer token stands for, or the 401 to answer instead."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = self.tokens.get(value) if scheme.lower() in ("bearer", "oauth") else None
        if token is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if token.state == "active" and token.expires_at and time.time() > token.expires_at:
            token.state = "expired"
        if token.state != "active":
            said = "The access token expired" if token.state == "expired" else "revoked"
            return JSONResponse(
                {"error": "invalid_token", "error_description": said}, status_code=401
            )
        return token.user

    def issue(self, user: str, scope: str = "") -> dict[str, Any]:
        """A token answer for `user` (tests call it to connect without the pages)."""
        access = secrets.token_urlsafe(32)
        answer: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
        if scope:
            answer["scope"] = scope
        expires_at = 0.0
        if self.expires_in:
            refresh = secrets.token_urlsafe(32)
            expires_at = time.time() + self.expires_in
            answer.update(expires_in=self.expires_in, refresh_token=refresh)
            with self._lock:
                self.refresh[refresh] = access
        with self._lock:
            self.tokens[access] = Token(user, expires_at=expires_at)
        answer.update(self.token_fields)
        return answer

    # --- the OAuth endpoints ------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if query.get("response_type") != "code":
            return JSONResponse({"error": "unsupported_response_type"}, status_code=400)
        challenge = query.get("code_challenge", "")
        if challenge and query.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if self.pkce_required and not challenge:
            return JSONResponse({"error": "invalid_request", "pkce": "required"}, status_code=400)
        state = query.get("state", "")
        if self.deny:
            refused = {"error": "access_denied", "state": state}
            return RedirectResponse(f"{redirect}?{urlencode(refused)}")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.grants[code] = Grant(redirect, challenge, self.user, query.get("scope", ""))
        return RedirectResponse(f"{redirect}?{urlencode({'code': code, 'state': state})}")

    def _client(self, request: Request, form: Mapping[str, str]) -> bool:
        if self.client_auth == "basic":
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                pair = base64.b64decode(value, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return False
            return pair == f"{self.client_id}:{self.client_secret}"
        return (form.get("client_id"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        if not self._client(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "refresh_token":
            with self._lock:
                old = self.refresh.pop(form.get("refresh_token", ""), None)
            token = self.tokens.get(old or "")
            if token is None or token.state == "revoked":
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            token.state = "revoked"  # the old access token stops working
            return JSONResponse(self.issue(token.user))
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        with self._lock:
            grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if grant.challenge:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(self.issue(grant.user, grant.scope))

    # --- control --------------------------------------------------------------------------

    async def _control_authorize_as(self, request: Request) -> Response:
        body = await request.json()
        self.user = str(body["user"])
        return JSONResponse({"user": self.user})

    async def _control_token(self, request: Request) -> Response:
        body = await request.json()
        state = str(body["state"])
        if state not in ("expired", "revoked"):
            return JSONResponse({"error": f"no token state {state}"}, status_code=422)
        changed = 0
        with self._lock:
            for token in self.tokens.values():
                if token.user == str(body["user"]) and token.state == "active":
                    token.state = state
                    changed += 1
            if state == "revoked":
                gone = [key for key, access in self.refresh.items() if access not in self._live()]
                for key in gone:
                    del self.refresh[key]
        return JSONResponse({"changed": changed})

    def _live(self) -> set[str]:
        return {access for access, token in self.tokens.items() if token.state != "revoked"}
