"""The checks every authorization callback passes before its code or verifier is exchanged.

A callback must carry the state its connection started with (compared in constant time) and
come back to the redirect URI it was sent to. OAuth 2 networks (bridges/oauth2.py), the
fediverse and Flickr's OAuth 1.0a each say in their own words what the provider refused; the
state and redirect checks are the same for all of them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from bridges.errors import ConnectFailed


def check_callback(
    pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
) -> None:
    """Raise ConnectFailed where the callback's state is not the pending one, or the redirect
    URI is not the one the connection started with."""
    expected = pending.get("state", "")
    if not expected or not hmac.compare_digest(callback.get("state", ""), expected):
        raise ConnectFailed("the state does not match this connection")
    if redirect_uri != pending.get("redirect_uri", redirect_uri):
        raise ConnectFailed("the redirect URI changed during the connection")
