"""What apps call right after logging in answers as Mastodon does: public ones without a
token, the others with the scope Mastodon requires, empty lists where the instance has no
such feature."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.accounts import make_account, make_token

# (path, scope it needs, what it answers)
READS: list[tuple[str, str, object]] = [
    ("/api/v1/filters", "read:filters", []),
    ("/api/v2/filters", "read:filters", []),
    ("/api/v1/lists", "read:lists", []),
    ("/api/v1/announcements", "read", []),
    ("/api/v1/conversations", "read:statuses", []),
    ("/api/v1/scheduled_statuses", "read:statuses", []),
    ("/api/v1/suggestions", "read", []),
    ("/api/v2/suggestions", "read", []),
    ("/api/v1/followed_tags", "read:follows", []),
    ("/api/v1/featured_tags", "read:accounts", []),
    ("/api/v1/endorsements", "read:accounts", []),
    ("/api/v1/markers?timeline[]=home", "read:statuses", {}),
]
PUBLIC = [
    "/api/v1/custom_emojis",
    "/api/v1/trends",
    "/api/v1/trends/tags",
    "/api/v1/trends/statuses",
    "/api/v1/trends/links",
]
# A granular scope of another family: enough to be a valid token, not enough for the call.
OTHER_SCOPE = {"read:filters": "read:lists"}


@pytest.mark.parametrize(("path", "scope", "expected"), READS)
async def test_each_call_takes_its_mastodon_scope(
    app: Starlette, client: httpx.AsyncClient, path: str, scope: str, expected: object
) -> None:
    account = await make_account(app, "dana")
    allowed = await make_token(app, account, scope)
    other = await make_token(app, account, OTHER_SCOPE.get(scope, "read:filters"))
    anonymous = await client.get(path)
    refused = await client.get(path, headers={"Authorization": f"Bearer {other}"})
    answer = await client.get(path, headers={"Authorization": f"Bearer {allowed}"})
    assert anonymous.status_code == 401
    assert "error" in anonymous.json()
    assert refused.status_code == 403
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected
    assert "link" not in answer.headers


@pytest.mark.parametrize("path", PUBLIC)
async def test_public_calls_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200
    assert answer.json() == []


async def test_streaming_health_says_ok(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/streaming/health")
    assert answer.status_code == 200
    assert answer.text == "OK"
    assert answer.headers["content-type"].startswith("text/plain")


async def test_preferences_need_read_accounts(app: Starlette, client: httpx.AsyncClient) -> None:
    account = await make_account(app, "dana")
    token = await make_token(app, account, "read:accounts")
    statuses_only = await make_token(app, account, "read:statuses")
    answer = await client.get("/api/v1/preferences", headers={"Authorization": f"Bearer {token}"})
    refused = await client.get(
        "/api/v1/preferences", headers={"Authorization": f"Bearer {statuses_only}"}
    )
    assert refused.status_code == 403
    assert answer.json()["posting:default:visibility"] == "public"
    assert answer.json()["posting:default:sensitive"] is False
    assert answer.json()["reading:expand:spoilers"] is False


async def test_notification_policy_in_both_shapes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    account = await make_account(app, "dana")
    reader = {"Authorization": f"Bearer {await make_token(app, account, 'read')}"}
    writer = {"Authorization": f"Bearer {await make_token(app, account, 'write')}"}
    v1 = (await client.get("/api/v1/notifications/policy", headers=reader)).json()
    v2 = (await client.get("/api/v2/notifications/policy", headers=reader)).json()
    patched = await client.patch(
        "/api/v2/notifications/policy", data={"for_new_accounts": "filter"}, headers=writer
    )
    read_cannot_patch = await client.patch("/api/v1/notifications/policy", headers=reader)
    assert v1["filter_not_following"] is False
    assert v1["summary"] == {"pending_requests_count": 0, "pending_notifications_count": 0}
    assert v2["for_not_following"] == "accept"
    assert v2["for_limited_accounts"] == "accept"
    assert patched.status_code == 200
    assert patched.json() == v2  # the instance filters nothing: the policy stays
    assert read_cannot_patch.status_code == 403


async def test_a_bad_limit_is_a_400_not_an_empty_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/trends/tags", params={"limit": "-1"})
    assert answer.status_code == 400
    assert "error" in answer.json()
