"""A remote account's profile fields (its actor's PropertyValue attachments) and header
image reach the client API's Account: names as plain text, values as sanitized HTML,
never verified here."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
from starlette.applications import Starlette

from activitypub.vocab import parse_actor
from server.context import context
from server.federation.remote import store_actor
from tests.support.accounts import bearer
from tests.support.network import Network

DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = "https://files.mastodon.example/accounts/headers/000/000/001/original/h.png"


async def test_a_captured_mastodon_actors_fields_and_header_are_its_accounts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given Mastodon's actor document, with a header and a field meaning harm
    document = copy.deepcopy(json.loads((DATA / "ap_mastodon_actor.json").read_text()))
    document["image"] = {"type": "Image", "mediaType": "image/png", "url": HEADER}
    document["attachment"].append(
        {
            "type": "PropertyValue",
            "name": "<b>Pronouns</b>",
            "value": '<script>alert(1)</script><a href="javascript:x()" onclick="y()">they</a>',
        }
    )
    actor = await store_actor(context(app).db, parse_actor(document))
    # When an app reads the account
    answer = await client.get(f"/api/v1/accounts/r{actor.id}", headers=await bearer(app, "ann"))
    # Then its fields are the PropertyValues, the hostile one defused; its header is its own
    assert answer.status_code == 200, answer.text
    account = answer.json()
    website, pronouns = account["fields"]
    assert website["name"] == "Website" and website["verified_at"] is None
    assert 'href="https://bob.example"' in website["value"]
    assert "bob.example</span>" in website["value"]
    assert pronouns["name"] == "Pronouns"
    assert "<script" not in pronouns["value"] and "alert" not in pronouns["value"]
    assert "javascript:" not in pronouns["value"] and "onclick" not in pronouns["value"]
    assert ">they</a>" in pronouns["value"] and pronouns["verified_at"] is None
    assert account["header"] == account["header_static"] == HEADER
    assert account["note"] == "<p>I draw things.</p>"
    # And an actor that drops its fields and header loses them when stored again
    document["attachment"], document["image"] = [], None
    del document["image"]
    await store_actor(context(app).db, parse_actor(document))
    again = (await client.get(f"/api/v1/accounts/r{actor.id}")).json()
    assert again["fields"] == []
    assert again["header"].endswith("/static/header.png")


async def test_fields_set_on_one_instance_show_on_another(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given carla on alpha, whose profile has two fields
    carla = await bearer(alpha, "carla", scopes="read write")
    fields = {
        "fields_attributes": [
            {"name": "Zines", "value": "https://carla.example/zines"},
            {"name": "Mood", "value": "<i>fine</i> & dandy"},
        ]
    }
    async with network.client("alpha.test") as http:
        changed = await http.patch(
            "/api/v1/accounts/update_credentials", json=fields, headers=carla
        )
        assert changed.status_code == 200, changed.text
    # When dave on beta finds her
    dave = await bearer(beta, "dave")
    async with network.client("beta.test") as http:
        found = await http.get(
            "/api/v2/search", params={"q": "carla@alpha.test", "resolve": "true"}, headers=dave
        )
    # Then her account there carries her fields as alpha wrote them, sanitized
    assert found.status_code == 200, found.text
    (account,) = found.json()["accounts"]
    names = [field["name"] for field in account["fields"]]
    assert names[:2] == ["Zines", "Mood"]
    zines, mood = account["fields"][:2]
    assert 'href="https://carla.example/zines"' in zines["value"]
    assert mood["value"] == "&lt;i&gt;fine&lt;/i&gt; &amp; dandy"
    assert all(field["verified_at"] is None for field in account["fields"])
