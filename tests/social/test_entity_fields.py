"""Each Mastodon entity the client API answers carries every attribute Mastodon 4.3
documents, with the documented type: real answers walked against the table in
tests/data/mastodon_entities.json. And a status's `application`: the app it was posted
from, shown to its author only."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from tests.accounts.oauth_steps import App, register
from tests.social.entity_fields import check, documented, mismatches
from tests.support.accounts import make_account
from tests.support.lifespan import app_lifespan
from tests.support.statuses import user_with_token

SIGN_UP = {
    "username": "carol",
    "email": "carol@example.org",
    "password": "a long password",
    "agreement": "true",
    "locale": "en",
}


async def _signed_up_from_app(client: httpx.AsyncClient, app: App) -> dict[str, str]:
    """A person signed up by the app: their token is the app's (as a code flow's is)."""
    grant = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": "read write follow",
        },
    )
    assert grant.status_code == 200, grant.text
    app_auth = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    answer = await client.post("/api/v1/accounts", data=SIGN_UP, headers=app_auth)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def _get(client: httpx.AsyncClient, path: str, auth: dict[str, str], **params: Any) -> Any:
    answer = await client.get(path, headers=auth, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_checker_finds_a_missing_or_mistyped_attribute() -> None:
    status = {name.removeprefix("?"): None for name in documented()["Status::Tag"]}
    assert mismatches("Status::Tag", status) == [
        "Status::Tag.name: None is not string",
        "Status::Tag.url: None is not string",
    ]
    assert mismatches("Relationship", {"id": "1", "following": 1}) != []
    assert "Field.verified_at: missing" in mismatches("Field", {"name": "a", "value": "b"})


async def test_every_entity_carries_its_documented_attributes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    registered = await register(client, scopes="read write follow")
    carol = await _signed_up_from_app(client, registered)
    bob_account, bob = await user_with_token(app, "bob")
    fields = {
        "fields_attributes[0][name]": "Website",
        "fields_attributes[0][value]": "https://carol.example/",
    }
    edited = await client.patch("/api/v1/accounts/update_credentials", data=fields, headers=carol)
    assert edited.status_code == 200, edited.text
    media = await client.post(
        "/api/v2/media",
        files={"file": ("picture.png", _png(), "image/png")},
        data={"description": "a blue square"},
        headers=carol,
    )
    assert media.status_code == 200, media.text
    posted = await client.post(
        "/api/v1/statuses",
        json={
            "status": "Hello @bob, see #blue",
            "media_ids": [media.json()["id"]],
            "language": "en",
            "spoiler_text": "colours",
        },
        headers=carol,
    )
    assert posted.status_code == 200, posted.text
    status_id = posted.json()["id"]
    me = await _get(client, "/api/v1/accounts/verify_credentials", carol)
    followed = await client.post(f"/api/v1/accounts/{me['id']}/follow", headers=bob)
    liked = await client.post(f"/api/v1/statuses/{status_id}/favourite", headers=bob)
    assert followed.status_code == 200 and liked.status_code == 200

    status = await _get(client, f"/api/v1/statuses/{status_id}", carol)
    check("Status", status)
    check("Status::Mention", status["mentions"][0])
    check("Status::Tag", status["tags"][0])
    check("MediaAttachment", status["media_attachments"][0])
    check("Account", status["account"])
    check("Application (of a status)", status["application"])
    assert status["application"] == {"name": "Test App", "website": None}
    check("Account", me)
    check("CredentialAccount source", me["source"])
    check("Field", me["fields"][0])
    check("Field", me["source"]["fields"][0])
    check("Account", await _get(client, f"/api/v1/accounts/{bob_account.id}", carol))
    for relationship in await _get(
        client, "/api/v1/accounts/relationships", carol, **{"id[]": str(bob_account.id)}
    ):
        check("Relationship", relationship)
    notifications = await _get(client, "/api/v1/notifications", carol)
    assert {item["type"] for item in notifications} == {"follow", "favourite"}
    for notification in notifications:
        check("Notification", notification)
        check("Account", notification["account"])
        if notification["type"] == "favourite":
            check("Status", notification["status"])

    instance = await _get(client, "/api/v2/instance", {})
    check("Instance", instance)
    check("Instance usage[users]", instance["usage"]["users"])
    check("Instance thumbnail", instance["thumbnail"])
    configuration = instance["configuration"]
    check("Instance configuration", configuration)
    for part in ("urls", "vapid", "accounts", "statuses", "media_attachments", "polls"):
        check(f"Instance configuration[{part}]", configuration[part])
    check("Instance configuration[translation]", configuration["translation"])
    check("Instance registrations", instance["registrations"])
    check("Instance api_versions", instance["api_versions"])
    check("Instance contact", instance["contact"])
    for icon in instance["icon"]:
        check("InstanceIcon", icon)


@pytest.mark.parametrize("path", ["/api/v1/statuses/{id}", "/api/v1/accounts/{me}/statuses"])
async def test_a_status_names_its_app_to_its_author_only(
    app: Starlette, client: httpx.AsyncClient, path: str
) -> None:
    registered = await register(client, scopes="read write follow")
    carol = await _signed_up_from_app(client, registered)
    _, bob = await user_with_token(app, "bob")
    posted = await client.post("/api/v1/statuses", json={"status": "from my app"}, headers=carol)
    assert posted.status_code == 200, posted.text
    assert posted.json()["application"] == {"name": "Test App", "website": None}
    me = posted.json()["account"]["id"]
    url = path.format(id=posted.json()["id"], me=me)

    def first(body: Any) -> dict[str, Any]:
        found: dict[str, Any] = body[0] if isinstance(body, list) else body
        return found

    assert first(await _get(client, url, carol))["application"]["name"] == "Test App"
    assert first(await _get(client, url, bob))["application"] is None
    assert first(await _get(client, url, {}))["application"] is None
    # A status posted with a personal access token names no app, even to its author.
    web = await client.post("/api/v1/statuses", json={"status": "from bob"}, headers=bob)
    assert web.status_code == 200 and web.json()["application"] is None


async def test_the_v1_instance_and_its_rules_carry_their_documented_attributes(
    settings: Settings,
) -> None:
    configured = settings.replace(extra={"rules": ["Be kind", "No spam"]})
    application = create_app(configured)
    async with app_lifespan(application):
        await make_account(application, "ada", admin=True)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=configured.base_url) as http:
            v1 = await _get(http, "/api/v1/instance", {})
            rules = await _get(http, "/api/v1/instance/rules", {})
            v2 = await _get(http, "/api/v2/instance", {})
    check("V1 Instance", v1)
    check("V1 Instance urls", v1["urls"])
    check("V1 Instance stats", v1["stats"])
    check("V1 Instance configuration", v1["configuration"])
    check("Account", v1["contact_account"])
    check("Account", v2["contact"]["account"])
    assert len(rules) == 2 and rules == v1["rules"] == v2["rules"]
    for rule in rules:
        check("Rule", rule)
