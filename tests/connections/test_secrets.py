"""Credentials at rest: sealed under a key derived from the instance secret, bound to their
row, never readable with another secret or on another row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridges.base import Credentials
from server.connections.credentials import seal_credentials, unseal_credentials
from server.connections.secrets import SealError, seal, unseal

SECRET = "instance-secret"


def test_a_sealed_value_opens_with_its_secret_and_context_only() -> None:
    sealed = seal(SECRET, "token-123", "connected_account:1")
    assert sealed.startswith("v1.") and "token-123" not in sealed
    assert seal(SECRET, "token-123", "connected_account:1") != sealed  # a fresh nonce
    assert unseal(SECRET, sealed, "connected_account:1") == "token-123"
    with pytest.raises(SealError):
        unseal("another-secret", sealed, "connected_account:1")
    with pytest.raises(SealError):
        unseal(SECRET, sealed, "connected_account:2")


@pytest.mark.parametrize("damaged", ["", "v1.", "v2.AAAA", "v1.!!!", "v1.AAAAAAAAAAAAAAAAAAAAAA"])
def test_a_damaged_value_is_a_seal_error(damaged: str) -> None:
    with pytest.raises(SealError):
        unseal(SECRET, damaged, "x")


def test_credentials_round_trip() -> None:
    credentials = Credentials(
        access_token="a",
        refresh_token="r",
        expires_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        scopes=("read:favourites", "read:accounts"),
        extra={"base_url": "https://mastodon.example"},
    )
    sealed = seal_credentials(SECRET, credentials, "c")
    assert unseal_credentials(SECRET, sealed, "c") == credentials
