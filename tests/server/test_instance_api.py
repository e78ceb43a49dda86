"""The instance as Mastodon apps read it: /api/v1/instance, /api/v2/instance and what hangs
below them, public and in Mastodon 4.3's shapes, with real counts."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.context import context
from server.models import Actor, Peer
from server.settings import Settings
from tests.support.accounts import make_account, make_token
from tests.support.lifespan import app_lifespan

DOMAIN = "likewise.test"


async def _world(app: Starlette) -> None:
    """An admin and a donor, one local post, a remote actor and a settlement peer."""
    admin = await make_account(app, "ada", admin=True)
    await make_account(app, "dana")
    token = await make_token(app, admin)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{DOMAIN}") as http:
        posted = await http.post(
            "/api/v1/statuses",
            json={"status": "hello"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert posted.status_code == 200, posted.text
    async with context(app).db.transaction() as session:
        session.add(Actor(uri="http://remote.test/users/eve", username="eve", domain="remote.test"))
        session.add(Peer(domain="peer.test:8443", currency="EUR", credit_limit=0))


def _version() -> str:
    return metadata.version("likewise")


async def test_v2_instance_is_public_and_shaped_as_mastodon_4_3(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given an instance with people, a post and peers
    await _world(app)
    # When an app asks for it without a token
    answer = await client.get("/api/v2/instance")
    # Then it reads Mastodon 4.3 with Likewise's version in the parenthesis
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    assert data["version"] == f"4.3.0 (compatible; Likewise {_version()})"
    assert re.match(r"^\d+\.\d+\.\d+ ", data["version"])
    assert data["domain"] == DOMAIN
    assert data["title"] == "Likewise"
    assert data["api_versions"] == {"mastodon": 2}
    assert data["usage"] == {"users": {"active_month": 1}}  # the admin used a token to post
    assert data["thumbnail"]["url"] == f"http://{DOMAIN}/static/header.png"
    assert data["languages"] == ["en"]
    configuration = data["configuration"]
    assert configuration["urls"]["streaming"] == f"ws://{DOMAIN}"
    assert configuration["statuses"]["max_characters"] == 5000
    assert configuration["statuses"]["max_media_attachments"] == 4
    assert configuration["statuses"]["characters_reserved_per_url"] == 23
    assert configuration["accounts"]["max_featured_tags"] == 0
    media = configuration["media_attachments"]
    assert "image/png" in media["supported_mime_types"]
    assert media["image_size_limit"] == context(app).settings.media_max_bytes
    assert media["image_matrix_limit"] == 33_177_600
    assert media["video_size_limit"] == 0
    assert configuration["polls"]["max_options"] == 4
    assert configuration["translation"] == {"enabled": False}
    assert data["registrations"]["enabled"] is True
    assert data["registrations"]["approval_required"] is False
    assert data["contact"]["account"]["username"] == "ada"
    assert data["rules"] == []


async def test_v1_instance_has_a_bare_domain_and_real_counts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _world(app)
    data: dict[str, Any] = (await client.get("/api/v1/instance")).json()
    assert data["uri"] == DOMAIN
    assert data["version"].startswith("4.3.0 (compatible; Likewise ")
    assert data["stats"] == {"user_count": 2, "status_count": 1, "domain_count": 2}
    assert data["urls"] == {"streaming_api": f"ws://{DOMAIN}"}
    assert data["registrations"] is True
    assert data["max_toot_chars"] == 5000
    assert data["configuration"]["statuses"]["max_characters"] == 5000
    assert data["contact_account"]["acct"] == "ada"
    assert isinstance(data["thumbnail"], str)


async def test_trailing_slashes_answer_too(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/instance/", "/api/v2/instance/"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert answer.json()["title"] == "Likewise"


async def test_peers_are_remote_hosts_and_settlement_peers(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _world(app)
    assert (await client.get("/api/v1/instance/peers")).json() == ["peer.test:8443", "remote.test"]


async def test_activity_counts_twelve_weeks_as_strings(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _world(app)
    weeks: list[dict[str, str]] = (await client.get("/api/v1/instance/activity")).json()
    assert len(weeks) == 12
    assert all(set(week) == {"week", "statuses", "logins", "registrations"} for week in weeks)
    assert all(isinstance(value, str) for week in weeks for value in week.values())
    starts = [datetime.fromtimestamp(int(week["week"]), UTC) for week in weeks]
    assert starts[0] <= datetime.now(UTC) < starts[0] + timedelta(weeks=1)
    assert all(start.weekday() == 0 and start.hour == 0 for start in starts)
    assert [a - b for a, b in itertools.pairwise(starts)] == [timedelta(weeks=1)] * 11
    assert (weeks[0]["statuses"], weeks[0]["registrations"]) == ("1", "2")
    assert all(week["statuses"] == "0" for week in weeks[1:])


async def test_rules_and_description_come_from_the_config(
    settings: Settings,
) -> None:
    configured = settings.replace(
        extra={"rules": ["Be kind", "  ", "No spam"], "description": "A <b>small</b> place"},
        registrations=False,
    )
    app = create_app(configured)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{DOMAIN}") as http:
            rules = (await http.get("/api/v1/instance/rules")).json()
            v2 = (await http.get("/api/v2/instance")).json()
            v1 = (await http.get("/api/v1/instance")).json()
            extended = (await http.get("/api/v1/instance/extended_description")).json()
    expected = [
        {"id": "1", "text": "Be kind", "hint": ""},
        {"id": "2", "text": "No spam", "hint": ""},
    ]
    assert rules == expected
    assert v2["rules"] == expected
    assert v2["description"] == "A <b>small</b> place"
    assert v2["registrations"]["enabled"] is False
    assert v1["registrations"] is False
    assert extended["content"] == "<p>A &lt;b&gt;small&lt;/b&gt; place</p>"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/instance/rules", []),
        ("/api/v1/instance/domain_blocks", []),
        ("/api/v1/instance/peers", []),
        ("/api/v1/instance/extended_description", {"updated_at": None, "content": ""}),
    ],
)
async def test_the_rest_is_public_and_empty_on_a_new_instance(
    client: httpx.AsyncClient, path: str, expected: object
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200
    assert answer.json() == expected


async def test_nodeinfo_names_mastodon_as_upstream(client: httpx.AsyncClient) -> None:
    """megalodon's detector knows a Mastodon-compatible server by NodeInfo's upstream."""
    document = (await client.get("/nodeinfo/2.0")).json()
    assert document["metadata"]["upstream"] == {"name": "mastodon", "version": "4.3.0"}
    assert document["metadata"]["likewise"]["microdonations"] is True
