from __future__ import annotations

from starlette.applications import Starlette

from activitypub.nodeinfo import parse_nodeinfo, parse_nodeinfo_links
from activitypub.vocab import parse_actor
from activitypub.webfinger import SUBSCRIBE_REL, parse_jrd
from server.context import context
from tests.support.accounts import make_account
from tests.support.network import Network


async def test_webfinger_finds_a_local_user(alpha: Starlette, network: Network) -> None:
    # Given
    await make_account(alpha, "carol")
    # When
    async with network.client("alpha.test") as http:
        response = await http.get("/.well-known/webfinger?resource=acct:carol@alpha.test")
        missing = await http.get("/.well-known/webfinger?resource=acct:nobody@alpha.test")
        other = await http.get("/.well-known/webfinger?resource=acct:carol@elsewhere.test")
    # Then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jrd+json")
    assert response.headers["access-control-allow-origin"] == "*"
    jrd = parse_jrd(response.json())
    assert jrd.subject == "acct:carol@alpha.test"
    assert jrd.self_href == "http://alpha.test/users/carol"
    assert jrd.profile_page == "http://alpha.test/@carol"
    assert "http://alpha.test/users/carol" in jrd.aliases
    links = {link["rel"]: link for link in response.json()["links"]}
    assert links[SUBSCRIBE_REL]["template"] == "http://alpha.test/authorize_interaction?uri={uri}"
    assert missing.status_code == 404
    assert other.status_code == 404


async def test_host_meta_and_nodeinfo(alpha: Starlette, network: Network) -> None:
    await make_account(alpha, "carol")
    async with network.client("alpha.test") as http:
        host_meta = await http.get("/.well-known/host-meta")
        links = await http.get("/.well-known/nodeinfo")
        href = parse_nodeinfo_links(links.json())
        document = await http.get(href)
    assert "lrdd" in host_meta.text
    assert href == "http://alpha.test/nodeinfo/2.1"
    info = parse_nodeinfo(document.json())
    assert info.software_name == "likewise"
    assert info.settles and info.settlement is not None
    assert info.settlement.currency == "EUR"
    assert document.json()["usage"]["users"]["total"] == 1
    assert document.json()["metadata"]["likewise"]["microdonations"] is True


async def test_actor_is_content_negotiated(alpha: Starlette, network: Network) -> None:
    await make_account(alpha, "carol")
    async with network.client("alpha.test") as http:
        as_json = await http.get("/users/carol", headers={"Accept": "application/activity+json"})
        as_ld = await http.get(
            "/users/carol",
            headers={
                "Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
            },
        )
        as_html = await http.get("/users/carol", headers={"Accept": "text/html"})
        instance = await http.get("/actor", headers={"Accept": "application/activity+json"})
    assert as_json.headers["content-type"].startswith("application/activity+json")
    assert as_ld.status_code == 200
    actor = parse_actor(as_json.json())
    assert actor.type == "Person"
    assert actor.inbox == "http://alpha.test/users/carol/inbox"
    assert actor.shared_inbox == "http://alpha.test/inbox"
    assert actor.public_key is not None
    assert actor.payment_links[0].href == "http://alpha.test/@carol/support"
    assert as_json.json()["manuallyApprovesFollowers"] is False
    assert as_html.status_code == 200
    assert "text/html" in as_html.headers["content-type"]
    assert parse_actor(instance.json()).type == "Application"


async def test_secure_mode_refuses_unsigned_actor_fetch(alpha: Starlette, network: Network) -> None:
    await make_account(alpha, "carol")
    context(alpha).settings = context(alpha).settings.replace(secure_mode=True)
    async with network.client("alpha.test") as http:
        refused = await http.get("/users/carol", headers={"Accept": "application/activity+json"})
        instance = await http.get("/actor", headers={"Accept": "application/activity+json"})
    assert refused.status_code == 401
    assert instance.status_code == 200
