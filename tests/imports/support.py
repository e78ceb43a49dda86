"""Export files written in the documented shapes, and a donor who uploads them through the
import pages."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.models import Click, ImportBatch
from tests.support.accounts import csrf_from

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
BATCH_URL = re.compile(r"/settings/imports/(\d+)$")


def this_month(minutes: int = 1) -> datetime:
    """A moment inside the running month, `minutes` before now (or its first second)."""
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(start, now - timedelta(minutes=minutes))


def long_ago(days: int = 400) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def instagram_export(likes: list[tuple[str, str, datetime]]) -> bytes:
    """`liked_posts.json`: (owner, post code, time) per like."""
    entries = [
        {
            "title": owner,
            "string_list_data": [
                {
                    "href": f"https://www.instagram.com/p/{code}/",
                    "value": "\u2764",
                    "timestamp": int(at.timestamp()),
                }
            ],
        }
        for owner, code, at in likes
    ]
    return json.dumps({"likes_media_likes": entries}).encode()


def facebook_export(likes: list[tuple[str, datetime]]) -> bytes:
    """`likes_and_reactions_1.json`: (whose post, time) per reaction."""
    entries = [
        {
            "timestamp": int(at.timestamp()),
            "title": f"Sam Rivera likes {owner}'s post.",
            "data": [{"reaction": {"reaction": "LIKE", "actor": "Sam Rivera"}}],
        }
        for owner, at in likes
    ]
    return json.dumps(entries).encode()


@dataclass
class Donor:
    app: Starlette
    web: httpx.AsyncClient
    account_id: int

    @property
    def db(self) -> Database:
        return context(self.app).db

    async def upload(self, name: str, content: bytes, network: str = "auto") -> httpx.Response:
        page = await self.web.get("/settings/imports")
        assert page.status_code == 200, page.text
        return await self.web.post(
            "/settings/imports/upload",
            data={"network": network, "csrf_token": csrf_from(page.text)},
            files={"file": (name, content, "application/octet-stream")},
        )

    async def imported(self, name: str, content: bytes, network: str = "auto") -> int:
        """Upload, run the parse job; the batch id."""
        answer = await self.upload(name, content, network)
        assert answer.status_code == 303, answer.text
        found = BATCH_URL.search(answer.headers["location"])
        assert found is not None, answer.headers["location"]
        await context(self.app).worker.drain()
        return int(found.group(1))

    async def post(self, batch_id: int, action: str) -> httpx.Response:
        page = await self.web.get(f"/settings/imports/{batch_id}")
        return await self.web.post(
            f"/settings/imports/{batch_id}/{action}", data={"csrf_token": csrf_from(page.text)}
        )

    async def batch(self, batch_id: int) -> ImportBatch:
        async with self.db.session() as session:
            found = await session.get(ImportBatch, batch_id)
            assert found is not None
            return found

    async def clicks(self) -> list[Click]:
        async with self.db.session() as session:
            query = select(Click).where(Click.donor_id == self.account_id).order_by(col(Click.id))
            return list((await session.exec(query)).all())


def number(page: str, name: str) -> int:
    """The number a preview shows under the element with this id."""
    found = re.search(rf'<dd id="{name}">(\d+)</dd>', page)
    assert found is not None, f"no {name} on the page"
    return int(found.group(1))
