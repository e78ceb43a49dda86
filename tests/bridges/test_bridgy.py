"""Bridgy Fed's copies map back to the original identity and post."""

from __future__ import annotations

import httpx

from bridges.base import Creator, Like
from bridges.bridgy import (
    bluesky_creator_of_actor_document,
    bluesky_did_of_actor,
    bluesky_handle_of_fediverse_handle,
    canonical_like,
    fediverse_handles_of_bluesky_handle,
    original_item,
)
from tests.bridges.test_fediverse import connect, network
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.payloads import load_json

DID = "did:plc:5zspv27pk4iqtrl2ql2nykjh"
POST = f"at://{DID}/app.bsky.feed.post/3l3pte3p2e325"


def test_a_bsky_brid_gy_actor_is_the_bluesky_did() -> None:
    actor = load_json("bridges/bridgy/bsky_actor.json")
    creator = bluesky_creator_of_actor_document(actor)
    assert creator == Creator(
        "bluesky", DID, "snarfed2.bsky.social", f"https://bsky.app/profile/{DID}"
    )
    assert bluesky_did_of_actor(f"https://bsky.brid.gy/ap/{DID}") == DID
    # An actor whose alsoKnownAs does not repeat the DID, or another host, is not mapped
    assert bluesky_creator_of_actor_document({**actor, "alsoKnownAs": []}) is None
    assert bluesky_did_of_actor(f"https://evil.example/ap/{DID}") is None
    assert bluesky_did_of_actor("https://bsky.brid.gy/ap/did:plc:../../x") is None


def test_handles_map_both_ways() -> None:
    assert (
        bluesky_handle_of_fediverse_handle("@Alice.bsky.social@bsky.brid.gy") == "alice.bsky.social"
    )
    assert bluesky_handle_of_fediverse_handle("@alice@mastodon.social") is None
    assert fediverse_handles_of_bluesky_handle("alice.mastodon.social.ap.brid.gy") == (
        "@alice@mastodon.social",
    )
    assert fediverse_handles_of_bluesky_handle("u-se-r.instance.example.ap.brid.gy") == (
        "@u-se-r@instance.example",
        "@u_se_r@instance.example",
    )
    assert fediverse_handles_of_bluesky_handle("alice.bsky.social") == ()
    assert fediverse_handles_of_bluesky_handle("alice.ap.brid.gy") == ()


def test_a_bridged_post_is_the_bluesky_post() -> None:
    assert original_item(f"https://bsky.brid.gy/convert/ap/{POST}") == POST
    assert original_item(f"https://bsky.brid.gy/convert/ap/{POST}/../x") is None
    assert original_item("https://mastodon.example/users/bob/statuses/1") is None
    other = Like(
        "1",
        "https://m.example/s/1",
        "https://m.example/s/1",
        Creator("fediverse", "https://m.example/u"),
    )
    assert canonical_like(other) is other


async def test_a_favourite_of_a_bridged_post_counts_for_the_bluesky_author(
    http: httpx.AsyncClient, mastodon: FakeMastodonApi
) -> None:
    made = mastodon.favourite(
        "donor",
        "snarfed2.bsky.social@bsky.brid.gy",
        uri=f"https://bsky.brid.gy/convert/ap/{POST}",
        author_uri=f"https://bsky.brid.gy/ap/{DID}",
    )
    connection = await connect(http, mastodon)
    (like,) = (await network(http).list_likes(connection.credentials, None)).likes
    assert like.like_id == made["status_id"]
    assert like.item_id == like.item_url == POST
    assert like.creator == Creator(
        "bluesky", DID, "snarfed2.bsky.social", f"https://bsky.app/profile/{DID}"
    )
