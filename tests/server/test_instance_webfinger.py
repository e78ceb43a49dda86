"""The instance actor's WebFinger: Mastodon checks it before it accepts what the actor sends
(the notices to creators come from the instance actor)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    "resource",
    [
        "acct:likewise.test@likewise.test",
        "likewise.test@LIKEWISE.TEST",
        "http://likewise.test/actor",
    ],
)
async def test_the_instance_actor_has_a_webfinger_mastodon_can_check(
    client: httpx.AsyncClient, resource: str
) -> None:
    # Mastodon WebFingers preferredUsername@host before it accepts an actor's activities
    response = await client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.status_code == 200
    jrd = response.json()
    assert jrd["subject"] == "acct:likewise.test@likewise.test"
    self_link = [link for link in jrd["links"] if link["rel"] == "self"]
    assert self_link == [
        {"rel": "self", "type": "application/activity+json", "href": "http://likewise.test/actor"}
    ]
    actor = await client.get("/actor", headers={"Accept": "application/activity+json"})
    assert actor.json()["preferredUsername"] == "likewise.test"


async def test_other_webfinger_resources_are_unchanged(client: httpx.AsyncClient) -> None:
    for resource in ("acct:nobody@likewise.test", "acct:likewise.test@other.test"):
        response = await client.get("/.well-known/webfinger", params={"resource": resource})
        assert response.status_code == 404
