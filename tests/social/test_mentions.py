"""Mentions and hashtags: parsed from a status's text and linked as Mastodon links them;
remote mentions found by WebFinger and sent the Create (to alone when direct); a remote
note's Mention and Hashtag tags read back."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from server.context import context
from server.models import Actor
from server.social.mentions import handles, link_text, read_tags
from tests.support.accounts import make_account, make_token
from tests.support.inbox import INBOX, send
from tests.support.network import Network
from tests.support.remote import RemoteActor

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def test_handles_are_found_once_local_ones_with_the_local_domain() -> None:
    text = "hi @Bob@Mastodon.test and @carol, mail x@y.test, @carol again @dave@h.test:8080."
    assert handles(text, "here.test") == [
        "bob@mastodon.test",
        "carol@here.test",
        "dave@h.test:8080",
    ]


def test_text_is_escaped_and_linked() -> None:
    bob = Actor(
        id=7,
        uri="https://m.test/users/bob",
        url="https://m.test/@bob",
        username="bob",
        domain="m.test",
    )
    linked = link_text(
        "<b>@bob@m.test</b> #Tag #1 @nobody\n\nsee https://x.test/a?b=1&c=2.",
        {"bob@m.test": bob},
        "here.test",
        "https://here.test",
    )
    assert linked.html == (
        '<p>&lt;b&gt;<span class="h-card" translate="no"><a href="https://m.test/@bob" '
        'class="u-url mention">@<span>bob</span></a></span>&lt;/b&gt; '
        '<a href="https://here.test/tags/tag" class="mention hashtag" rel="tag">'
        "#<span>Tag</span></a> #1 @nobody</p>"
        '<p>see <a href="https://x.test/a?b=1&amp;c=2" target="_blank" '
        'rel="nofollow noopener noreferrer">https://x.test/a?b=1&amp;c=2</a>.</p>'
    )
    assert linked.mentions == [bob]
    assert linked.tags == ["tag"]


def test_remote_tags_are_read_leniently() -> None:
    read = read_tags(
        [
            {"type": "Mention", "href": "https://a.test/u/x", "name": "@x@a.test"},
            {"type": "Hashtag", "name": "#Fun", "href": "https://a.test/tags/fun"},
            {"type": "Hashtag", "name": "#bad tag"},
            {"type": "Emoji", "name": ":x:"},
            "junk",
        ]
    )
    assert read.mentions == ["https://a.test/u/x"]
    assert read.hashtags == ["fun"]
    assert read_tags({"type": "Hashtag", "name": "#solo"}).hashtags == ["solo"]
    assert read_tags(None).mentions == []


async def _carol(alpha: Starlette) -> dict[str, str]:
    carol = await make_account(alpha, "carol")
    return {"Authorization": f"Bearer {await make_token(alpha, carol)}"}


async def test_a_remote_mention_is_linked_tagged_and_delivered(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    auth = await _carol(alpha)
    async with network.client("alpha.test") as http:
        posted = await http.post(
            "/api/v1/statuses",
            json={"status": "hello @bob@mastodon.test and @ghost@mastodon.test #Art"},
            headers=auth,
        )
    status: dict[str, Any] = posted.json()
    await context(alpha).worker.drain()
    # Then the status names bob (ghost answers no WebFinger: plain text)
    assert [m["acct"] for m in status["mentions"]] == ["bob@mastodon.test"]
    assert status["mentions"][0]["id"].startswith("r")
    assert "@ghost@mastodon.test" in status["content"]
    # And bob received the Create, cc'd, with his Mention and the Hashtag
    [create] = mastodon.server.activities()
    note = create["object"]
    assert note["to"] == [PUBLIC]
    assert note["cc"] == ["http://alpha.test/users/carol/followers", mastodon.uri]
    assert {"type": "Mention", "href": mastodon.uri, "name": "@bob@mastodon.test"} in note["tag"]
    assert {
        "type": "Hashtag",
        "href": "http://alpha.test/tags/art",
        "name": "#art",
    } in note["tag"]
    # And the note's own document carries them too
    async with network.client("alpha.test") as http:
        fetched = await http.get(status["uri"], headers={"Accept": "application/activity+json"})
    assert fetched.json()["tag"] == note["tag"]


async def test_direct_goes_to_the_mentioned_alone(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    auth = await _carol(alpha)
    async with network.client("alpha.test") as http:
        posted = await http.post(
            "/api/v1/statuses",
            json={"status": "@bob@mastodon.test psst", "visibility": "direct"},
            headers=auth,
        )
        hidden = await http.get(f"/api/v1/statuses/{posted.json()['id']}")
        seen = await http.get(f"/api/v1/statuses/{posted.json()['id']}", headers=auth)
    await context(alpha).worker.drain()
    [create] = mastodon.server.activities()
    assert create["object"]["to"] == [mastodon.uri]
    assert create["object"]["cc"] == []
    assert create["to"] == [mastodon.uri]
    assert hidden.status_code == 404
    assert seen.json()["visibility"] == "direct"


async def test_a_remote_reply_mentioning_a_local_user_is_threaded(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given carol's post
    auth = await _carol(alpha)
    async with network.client("alpha.test") as http:
        posted = (await http.post("/api/v1/statuses", json={"status": "hi"}, headers=auth)).json()
    carol_uri = "http://alpha.test/users/carol"
    # When bob replies to it, directly to her
    reply = mastodon.reply(carol_uri, posted["uri"], "hello back")
    reply["object"]["tag"].append({"type": "Hashtag", "name": "#Greetings"})
    assert (await send(network, *mastodon.signed(INBOX, reply))).status_code == 202
    await context(alpha).worker.drain()
    async with network.client("alpha.test") as http:
        mine = (await http.get(f"/api/v1/statuses/{posted['id']}/context", headers=auth)).json()
        public = (await http.get(f"/api/v1/statuses/{posted['id']}/context")).json()
    # Then carol sees it below her post; nobody else does
    [below] = mine["descendants"]
    assert below["uri"] == reply["object"]["id"]
    assert below["in_reply_to_id"] == posted["id"]
    assert below["in_reply_to_account_id"] == posted["account"]["id"]
    assert below["visibility"] == "direct"
    assert below["mentions"][0]["acct"] == "carol"
    assert below["tags"] == [{"name": "greetings", "url": "http://alpha.test/tags/greetings"}]
    assert below["likewise"]["payable"] is False
    assert public["descendants"] == []
