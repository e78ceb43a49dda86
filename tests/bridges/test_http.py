"""The Fetcher's header readings and guards that need no fake."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bridges.base import RateInfo
from bridges.errors import BadPayload, BlockedAddress
from bridges.http import Fetcher, check_uri, rate_info, retry_after

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def test_rate_limit_headers_of_mastodon_and_bluesky() -> None:
    mastodon = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "12",
        "X-RateLimit-Reset": "2026-12-06T12:05:00.000Z",
    }
    assert rate_info(mastodon, NOW) == RateInfo(300, 12, datetime(2026, 12, 6, 12, 5, tzinfo=UTC))
    bluesky = {
        "ratelimit-limit": "3000",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "1796558700",
    }
    assert rate_info(bluesky, NOW).reset_at == datetime.fromtimestamp(1796558700, UTC)
    assert rate_info({"ratelimit-reset": "30"}, NOW).reset_at == datetime(
        2026, 12, 6, 12, 0, 30, tzinfo=UTC
    )
    assert rate_info({"x-ratelimit-limit": "lots", "x-ratelimit-reset": "soon"}, NOW) == RateInfo()
    x = {
        "x-rate-limit-limit": "75",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": "1796558700",
    }
    assert rate_info(x, NOW) == RateInfo(75, 0, datetime.fromtimestamp(1796558700, UTC))
    assert retry_after(x, datetime.fromtimestamp(1796558700 - 90, UTC)) == 90


def test_retry_after_prefers_retry_after_then_the_reset_and_stays_bounded() -> None:
    assert retry_after({"Retry-After": "120"}, NOW) == 120
    assert retry_after({"Retry-After": "Sun, 06 Dec 2026 12:01:00 GMT"}, NOW) == 60
    assert retry_after({"X-RateLimit-Reset": "2026-12-06T12:05:00Z"}, NOW) == 300
    assert retry_after({}, NOW) == 60
    assert retry_after({"Retry-After": "-5"}, NOW) == 1
    assert retry_after({"Retry-After": "99999999"}, NOW) == 24 * 3600


async def test_private_names_are_refused_by_what_they_resolve_to() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return {"inside.example": ["10.0.0.7"], "outside.example": ["93.184.216.34"]}[host]

    async with httpx.AsyncClient() as http:
        fetcher = Fetcher(http, resolver=resolver)
        with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7"):
            await fetcher.check_url("https://inside.example/api/v1/favourites")
        await fetcher.check_url("https://outside.example/api/v1/favourites")
        for url in (
            "http://outside.example/",
            "https://[::1]/",
            "https://user@outside.example/",
            "file:///etc/passwd",
        ):
            with pytest.raises(BlockedAddress):
                await fetcher.check_url(url)


def test_uris_with_tricks_are_refused() -> None:
    assert check_uri("https://m.example/users/bob", "uri") == "https://m.example/users/bob"
    for bad in (
        "https://m.example/users/../admin",
        "https://m.example/users/./bob",
        "https://user:pw@m.example/x",
        "https://m.example/a b",
        "http://m.example/users/bob",
        "javascript:alert(1)",
        "https://m.example/x\\y",
        "https://" + "a" * 3000,
        None,
    ):
        with pytest.raises(BadPayload):
            check_uri(bad, "uri")
