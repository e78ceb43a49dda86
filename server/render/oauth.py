"""OAuth shapes as Mastodon writes them: the Application and Token entities, the
authorization server's metadata (RFC 8414), and the 422 of a refused app sign-up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from server.settings import Settings

GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
# What the consent page says each scope lets the app do.
SCOPE_LABELS = {
    "read": "read everything of your account: posts, timelines, likes, notifications",
    "write": "post, like (each like a click of your monthly budget), follow, edit your profile",
    "follow": "see and change whom you follow, block and mute",
    "push": "receive push notifications",
    "profile": "see your profile (username, display name) and nothing else",
    "write:favourites": "like posts: each like is a click of your monthly budget",
    "read:favourites": "see the posts you liked",
    "write:statuses": "post and delete posts",
    "read:statuses": "read posts and timelines",
    "read:accounts": "see accounts and your profile",
    "write:accounts": "change your profile",
    "read:notifications": "read your notifications",
}
# Mastodon's names for why a field was refused.
ERROR_CODES = {
    "conflict": "ERR_TAKEN",
    "validation_failed": "ERR_INVALID",
    "inclusion": "ERR_INCLUSION",
}


class Application(Protocol):
    id: int | None
    name: str
    website: str
    redirect_uris: str
    scopes: str


def application(app: Application, client_secret: str | None, client_id: str | None) -> Any:
    uris = [uri for uri in app.redirect_uris.split("\n") if uri]
    body: dict[str, Any] = {
        "id": str(app.id),
        "name": app.name,
        "website": app.website or None,
        "scopes": app.scopes.split(),
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": "",
    }
    if client_id is not None:
        body["client_id"] = client_id
    if client_secret is not None:
        body["client_secret"] = client_secret
        body["client_secret_expires_at"] = 0
    return body


def token(access_token: str, scope: str, created_at: datetime) -> Any:
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "scope": scope,
        "created_at": int(created_at.timestamp()),
    }


def server_metadata(settings: Settings, scopes: Sequence[str], password_grant: bool) -> Any:
    base = settings.base_url
    grants = [*GRANT_TYPES, "password"] if password_grant else list(GRANT_TYPES)
    return {
        "issuer": base + "/",
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "revocation_endpoint": base + "/oauth/revoke",
        "app_registration_endpoint": base + "/api/v1/apps",
        "scopes_supported": list(scopes),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


def validation_failed(message: str, field: str | None, code: str) -> Any:
    """`{"error": "Validation failed: …", "details": {field: [{error, description}]}}`."""
    body: dict[str, Any] = {"error": f"Validation failed: {message}"}
    if field:
        error = ERROR_CODES.get(code, "ERR_INVALID")
        if field == "agreement":
            error = "ERR_ACCEPTED"
        body["details"] = {field: [{"error": error, "description": message}]}
    return body
