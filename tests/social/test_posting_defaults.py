"""A donor's posting defaults (`source[privacy]`, `source[sensitive]`, `source[language]`
set by update_credentials) decide what a status posted without them gets, and
`/api/v1/preferences` reports them."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.support.accounts import bearer, post_status

CREDENTIALS = "/api/v1/accounts/update_credentials"


async def test_statuses_without_visibility_take_the_accounts_default(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    bob = await bearer(app, "bob")
    # Before any choice: public, not sensitive, no language
    fresh = (await client.get("/api/v1/preferences", headers=carol)).json()
    assert fresh["posting:default:visibility"] == "public"
    assert fresh["posting:default:sensitive"] is False
    assert fresh["posting:default:language"] is None
    assert (await post_status(client, carol, status="first"))["visibility"] == "public"
    # When carol chooses unlisted, sensitive and German (a form, as Mastodon.py sends it)
    form = {"source[privacy]": "unlisted", "source[sensitive]": "true", "source[language]": "de"}
    changed = await client.patch(CREDENTIALS, data=form, headers=carol)
    assert changed.status_code == 200, changed.text
    assert changed.json()["source"]["privacy"] == "unlisted"
    # Then the preferences say so
    preferences = (await client.get("/api/v1/preferences", headers=carol)).json()
    assert preferences["posting:default:visibility"] == "unlisted"
    assert preferences["posting:default:sensitive"] is True
    assert preferences["posting:default:language"] == "de"
    assert preferences["reading:expand:media"] == "default"
    # And a status posted without them takes them; one that names them keeps its own
    defaulted = await post_status(client, carol, status="second")
    assert defaulted["visibility"] == "unlisted"
    assert defaulted["sensitive"] is True and defaulted["language"] == "de"
    chosen = await post_status(
        client, carol, status="third", visibility="public", sensitive=False, language="en"
    )
    assert chosen["visibility"] == "public"
    assert chosen["sensitive"] is False and chosen["language"] == "en"
    # When she chooses private (JSON, as browser clients send it)
    again = await client.patch(CREDENTIALS, json={"source": {"privacy": "private"}}, headers=carol)
    assert again.status_code == 200, again.text
    private = await post_status(client, carol, status="followers only")
    # Then her next status is private: bob, who does not follow her, cannot read it
    assert private["visibility"] == "private"
    assert (await client.get(f"/api/v1/statuses/{private['id']}", headers=bob)).status_code == 404
    public = (await client.get("/api/v1/timelines/public")).json()
    assert private["id"] not in [status["id"] for status in public]
    # And bob's own default is untouched
    assert (await post_status(client, bob, status="mine"))["visibility"] == "public"
