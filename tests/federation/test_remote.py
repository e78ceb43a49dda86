from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from activitypub.errors import BlockedAddress
from server.federation.remote import build_client, sanitize_html
from server.settings import Settings


async def test_production_refuses_private_and_plain_http_peers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, domain="likewise.example", dev=False)
    async with httpx.AsyncClient() as http:
        client = build_client(settings, http)
        for url in ("https://127.0.0.1/users/x", "https://10.0.0.1/x", "http://example.org/x"):
            with pytest.raises(BlockedAddress):
                await client.check_url(url)


async def test_dev_mode_allows_loopback_peers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, domain="127.0.0.1:8000", dev=True)
    async with httpx.AsyncClient() as http:
        await build_client(settings, http).check_url("http://127.0.0.1:8001/users/x")


def test_remote_html_is_sanitized() -> None:
    dirty = '<p onclick="x()">hi<script>alert(1)</script><a href="javascript:x">l</a></p>'
    clean = sanitize_html(dirty)
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert 'rel="nofollow noopener noreferrer"' in sanitize_html(
        '<a href="https://x.example">x</a>'
    )
