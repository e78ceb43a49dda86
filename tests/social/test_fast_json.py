"""The home timeline and statuses are encoded with orjson (server/routes/api/fast_json.py):
the very bytes the standard library's JSONResponse writes, for text of any script."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse

from tests.support.accounts import bearer

TEXT = 'Grüße 🎉 «ça» \u2028 "quoted" a/b <b>bold</b> \\ tab\there #Kites'


async def test_the_fast_answers_are_the_standard_librarys_bytes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    body = {"status": TEXT, "spoiler_text": "ß ☃", "language": "de"}
    posted = await client.post("/api/v1/statuses", json=body, headers=carol)
    assert posted.status_code == 200, posted.text
    status_id = posted.json()["id"]
    liked = await client.post(f"/api/v1/statuses/{status_id}/favourite", headers=carol)
    for answer in (
        posted,
        liked,
        await client.get("/api/v1/timelines/home", headers=carol),
        await client.get("/api/v1/timelines/public"),
        await client.get("/api/v1/favourites", headers=carol),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == JSONResponse(answer.json()).body
    assert "Grüße 🎉".encode() in posted.content
