"""Profile fields, avatar and header reach the ActivityPub actor as Mastodon writes them
(`PropertyValue` attachments, `icon`, `image`), and followers' servers get an Update."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from activitypub.profile_fields import profile_links
from activitypub.vocab import parse_actor
from server.context import context
from tests.accounts.test_accounts_api import jpeg, png
from tests.support.accounts import make_account, make_token
from tests.support.inbox import deliver, make_activity
from tests.support.mastodon import field_link
from tests.support.network import Network
from tests.support.remote import RemoteActor

ACTIVITY_JSON = {"Accept": "application/activity+json"}


async def _actor(network: Network) -> dict[str, Any]:
    async with network.client("alpha.test") as http:
        response = await http.get("/users/carol", headers=ACTIVITY_JSON)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_fields_and_images_in_the_actor_and_an_update_to_followers(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given carol, followed by bob on Mastodon
    carol = await make_account(alpha, "carol")
    auth = {"Authorization": f"Bearer {await make_token(alpha, carol)}"}
    follow = make_activity(mastodon, "Follow", 1, "http://alpha.test/users/carol")
    await deliver(alpha, network, mastodon, follow)
    before = await _actor(network)
    assert [a["type"] for a in before["attachment"]] == ["Link"]  # the payment link alone
    assert before["icon"]["url"] == "http://alpha.test/static/avatar.png"
    # When she fills in her profile
    async with network.client("alpha.test") as http:
        response = await http.patch(
            "/api/v1/accounts/update_credentials",
            data={
                "display_name": "Carol",
                "fields_attributes[0][name]": "Website",
                "fields_attributes[0][value]": "https://carol.example",
                "fields_attributes[1][name]": "Shop",
                "fields_attributes[1][value]": "mugs & prints",
            },
            files={
                "avatar": ("a.png", png(), "image/png"),
                "header": ("h.jpg", jpeg(), "image/jpeg"),
            },
            headers=auth,
        )
    assert response.status_code == 200, response.text
    account = response.json()
    # Then the actor carries them as Mastodon writes them
    document = await _actor(network)
    fields = [a for a in document["attachment"] if a["type"] == "PropertyValue"]
    assert fields == [
        {"type": "PropertyValue", "name": "Website", "value": field_link("https://carol.example")},
        {"type": "PropertyValue", "name": "Shop", "value": "mugs &amp; prints"},
    ]
    assert "PropertyValue" in str(document["@context"])
    assert document["name"] == "Carol"
    assert document["icon"] == {"type": "Image", "url": account["avatar"], "mediaType": "image/png"}
    assert document["image"] == {
        "type": "Image",
        "url": account["header"],
        "mediaType": "image/jpeg",
    }
    # And a server verifying rel=me reads the website as her claim
    assert profile_links(parse_actor(document)) == ("https://carol.example",)
    # And bob's server was sent the Update with the new fields
    await context(alpha).worker.drain()
    updates = [a for a in mastodon.server.activities() if a["type"] == "Update"]
    assert updates, mastodon.server.activities()
    sent = updates[-1]["object"]
    assert sent["id"] == "http://alpha.test/users/carol"
    assert [a["name"] for a in sent["attachment"] if a["type"] == "PropertyValue"] == [
        "Website",
        "Shop",
    ]
    # When she empties her fields, they leave the actor
    async with network.client("alpha.test") as http:
        await http.patch(
            "/api/v1/accounts/update_credentials",
            json={"fields_attributes": []},
            headers=auth,
        )
    after = await _actor(network)
    assert [a["type"] for a in after["attachment"]] == ["Link"]
