"""A connected account's credentials as stored: `bridges.base.Credentials` as JSON, sealed
(server/connections/secrets.py) and bound to the account's row by its identity."""

from __future__ import annotations

from datetime import datetime

from bridges.base import Credentials
from server.connections.secrets import SealError, seal_json, unseal_json


def context_of(account_id: int, network: str, external_id: str) -> str:
    return f"connected_account:{account_id}:{network}:{external_id}"


def seal_credentials(secret_key: str, credentials: Credentials, context: str) -> str:
    value = {
        "access_token": credentials.access_token,
        "refresh_token": credentials.refresh_token,
        "expires_at": credentials.expires_at.isoformat() if credentials.expires_at else "",
        "scopes": list(credentials.scopes),
        "extra": dict(credentials.extra),
    }
    return seal_json(secret_key, value, context)


def unseal_credentials(secret_key: str, sealed: str, context: str) -> Credentials:
    value = unseal_json(secret_key, sealed, context)
    scopes, extra = value.get("scopes"), value.get("extra")
    try:
        expires = str(value.get("expires_at") or "")
        return Credentials(
            access_token=str(value.get("access_token", "")),
            refresh_token=str(value.get("refresh_token", "")),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
            extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
        )
    except ValueError as exc:
        raise SealError("the stored credentials are damaged") from exc
