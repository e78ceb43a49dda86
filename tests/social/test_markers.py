"""Timeline read markers are stored per account and timeline: each save bumps the version,
another app of the same person reads them back, nobody else does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from tests.support.accounts import make_account, make_token

BOTH = {"timeline[]": ["home", "notifications"]}


async def _auth(app: Starlette, name: str, scopes: str = "read write") -> dict[str, str]:
    account = await make_account(app, name)
    return {"Authorization": f"Bearer {await make_token(app, account, scopes)}"}


async def test_saved_markers_are_read_back_with_growing_versions(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    dana = await _auth(app, "dana")
    # Given nothing saved yet
    assert (await client.get("/api/v1/markers", params=BOTH, headers=dana)).json() == {}
    # When an app saves the home timeline's position as a form, then again as JSON
    first = await client.post("/api/v1/markers", data={"home[last_read_id]": "17"}, headers=dana)
    second = await client.post(
        "/api/v1/markers",
        json={"home": {"last_read_id": "23"}, "notifications": {"last_read_id": "5"}},
        headers=dana,
    )
    # Then each answer holds what it saved, and the home marker's version went up
    assert first.status_code == 200, first.text
    assert first.json()["home"]["last_read_id"] == "17"
    assert first.json()["home"]["version"] == 1
    assert set(first.json()) == {"home"}
    assert second.json()["home"] == {
        "last_read_id": "23",
        "version": 2,
        "updated_at": second.json()["home"]["updated_at"],
    }
    assert second.json()["notifications"]["version"] == 1
    updated = datetime.strptime(second.json()["home"]["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(updated.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)
    # And another app of dana's reads them; asking for one timeline gives that one
    read = (await client.get("/api/v1/markers", params=BOTH, headers=dana)).json()
    assert read == second.json()
    home_only = await client.get("/api/v1/markers", params={"timeline[]": "home"}, headers=dana)
    assert set(home_only.json()) == {"home"}


async def test_markers_belong_to_their_account(app: Starlette, client: httpx.AsyncClient) -> None:
    dana = await _auth(app, "dana")
    erin = await _auth(app, "erin")
    await client.post("/api/v1/markers", data={"home[last_read_id]": "9"}, headers=dana)
    assert (await client.get("/api/v1/markers", params=BOTH, headers=erin)).json() == {}
    await client.post("/api/v1/markers", data={"home[last_read_id]": "3"}, headers=erin)
    mine = (await client.get("/api/v1/markers", params=BOTH, headers=dana)).json()
    assert mine["home"]["last_read_id"] == "9"
    assert mine["home"]["version"] == 1


async def test_saves_at_once_both_count(app: Starlette, client: httpx.AsyncClient) -> None:
    dana = await _auth(app, "dana")
    await client.post("/api/v1/markers", data={"home[last_read_id]": "1"}, headers=dana)
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/markers", data={"home[last_read_id]": str(n)}, headers=dana)
            for n in (2, 3, 4)
        )
    )
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    read = (await client.get("/api/v1/markers", params=BOTH, headers=dana)).json()
    assert read["home"]["version"] == 4


async def test_bad_markers_are_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    dana = await _auth(app, "dana")
    reader = await _auth(app, "erin", "read")
    nothing = await client.post("/api/v1/markers", data={"lists[last_read_id]": "1"}, headers=dana)
    bad_id = await client.post(
        "/api/v1/markers", json={"home": {"last_read_id": "1 OR 1=1"}}, headers=dana
    )
    not_object = await client.post("/api/v1/markers", json=["home"], headers=dana)
    no_scope = await client.post(
        "/api/v1/markers", data={"home[last_read_id]": "1"}, headers=reader
    )
    anonymous = await client.get("/api/v1/markers", params=BOTH)
    assert (nothing.status_code, bad_id.status_code, not_object.status_code) == (422, 422, 400)
    assert all("error" in answer.json() for answer in (nothing, bad_id, not_object))
    assert no_scope.status_code == 403
    assert anonymous.status_code == 401
