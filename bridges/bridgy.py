"""Bridged identities are one person: Bridgy Fed (fed.brid.gy) shows Bluesky accounts in
the fediverse and fediverse accounts on Bluesky. These pure functions map the bridged copy
back to the original, so a like given on either side counts toward the same creator (and,
for posts, the same Thing).

What they rely on, from Bridgy Fed's source (snarfed/bridgy-fed at d505297f, Aug 2026):
- ids.py `translate_user_id`: a Bluesky user's ActivityPub actor id is
  `subdomain_wrap(ATProto, "/ap/<did>")`, i.e. `https://bsky.brid.gy/ap/<did>`
  (tests/test_ids.py: `(ATProto, 'did:plc:x', ActivityPub, 'https://bsky.brid.gy/ap/did:plc:x')`).
- activitypub.py `postprocess_as2_actor` puts the user's native id in the actor's
  `alsoKnownAs` (tests/test_activitypub.py, test_convert_actor_as1_from_atproto_user_type_service:
  `'id': 'https://bsky.brid.gy/ap/did:plc:user', 'alsoKnownAs': ['did:plc:user']`) and the
  Bluesky handle as `preferredUsername`, served as `@<handle>@bsky.brid.gy`
  (tests/test_ids.py: `(ATProto(id='did:plc:user'), ActivityPub, '@user.com@bsky.brid.gy')`).
- ids.py `translate_object_id`: a Bluesky post's ActivityPub id is
  `https://bsky.brid.gy/convert/ap/<at:// URI>`.
- ids.py `translate_handle`: a fediverse account `@user@instance` is `user.instance.ap.brid.gy`
  on Bluesky, after the characters `_` and `~` became `-` (tests/test_ids.py:
  `'@u_se~r@instance'` -> `'u-se-r.instance.ap.brid.gy'`). That is lossy: the way back gives
  candidates, the first one the plain reading, and the caller confirms one by WebFinger (the
  actor URI is not in the handle). Its DID is one Bridgy Fed made, so only the handle leads
  back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bridges.base import Creator, Like
from bridges.bluesky import DID_RE, HANDLE_RE, creator_for, parse_at_uri
from bridges.errors import BadPayload

BSKY_BRIDGE = "https://bsky.brid.gy"
ACTOR_PREFIX = f"{BSKY_BRIDGE}/ap/"
OBJECT_PREFIX = f"{BSKY_BRIDGE}/convert/ap/"
FEDIVERSE_HANDLE_SUFFIX = ".ap.brid.gy"
BSKY_HANDLE_DOMAIN = "bsky.brid.gy"


def bluesky_did_of_actor(actor_uri: str) -> str | None:
    """The DID of the Bluesky account a bsky.brid.gy actor stands for; None for any other
    actor."""
    if not actor_uri.startswith(ACTOR_PREFIX):
        return None
    did = actor_uri.removeprefix(ACTOR_PREFIX)
    return did if DID_RE.fullmatch(did) else None


def bluesky_creator_of_actor_document(actor: Mapping[str, object]) -> Creator | None:
    """The Bluesky identity behind a fetched Bridgy Fed actor: its id names the DID and its
    `alsoKnownAs` repeats it (both must agree); the handle is its `preferredUsername`."""
    actor_id = actor.get("id")
    did = bluesky_did_of_actor(actor_id) if isinstance(actor_id, str) else None
    aliases = actor.get("alsoKnownAs")
    if did is None or not isinstance(aliases, list) or did not in aliases:
        return None
    name = actor.get("preferredUsername")
    handle = name if isinstance(name, str) and HANDLE_RE.fullmatch(name) else ""
    return creator_for(did, handle)


def bluesky_handle_of_fediverse_handle(handle: str) -> str | None:
    """`@alice.bsky.social@bsky.brid.gy` -> `alice.bsky.social` (resolve it to its DID)."""
    user, _, domain = handle.removeprefix("@").rpartition("@")
    if domain.lower() != BSKY_HANDLE_DOMAIN or not HANDLE_RE.fullmatch(user):
        return None
    return user.lower()


def original_item(uri: str) -> str | None:
    """The AT URI of a Bluesky post that Bridgy Fed serves to the fediverse; None for any
    other object."""
    if not uri.startswith(OBJECT_PREFIX):
        return None
    try:
        return str(parse_at_uri(uri.removeprefix(OBJECT_PREFIX)))
    except BadPayload:
        return None


def fediverse_handles_of_bluesky_handle(handle: str) -> tuple[str, ...]:
    """`alice.mastodon.social.ap.brid.gy` -> (`@alice@mastodon.social`, …): the fediverse
    handles it may stand for, the plain reading first, then with `-` read as `_` in the
    user name (Bridgy Fed wrote both as `-`). Empty for any other handle."""
    text = handle.lower().removeprefix("@")
    if not text.endswith(FEDIVERSE_HANDLE_SUFFIX) or not HANDLE_RE.fullmatch(text):
        return ()
    user, _, instance = text.removesuffix(FEDIVERSE_HANDLE_SUFFIX).partition(".")
    if not user or "." not in instance:
        return ()
    candidates = [f"@{user}@{instance}"]
    if "-" in user:
        candidates.append(f"@{user.replace('-', '_')}@{instance}")
    return tuple(candidates)


def canonical_creator(creator: Creator) -> Creator:
    """The original identity of a bridged one where the mapping is pure (a bsky.brid.gy
    actor is its Bluesky DID); any other creator as it is."""
    if creator.network == "fediverse":
        did = bluesky_did_of_actor(creator.external_id)
        if did is not None:
            return creator_for(did, bluesky_handle_of_fediverse_handle(creator.handle) or "")
    return creator


def canonical_like(like: Like) -> Like:
    """A like of a bridged post as a like of the original post by the original creator
    (the like's own id stays the network's)."""
    item = original_item(like.item_id)
    creator = canonical_creator(like.creator)
    if item is not None:  # the post's author is the DID in its AT URI
        did = parse_at_uri(item).did
        author = creator_for(did, creator.handle if creator.external_id == did else "")
        return replace(like, item_id=item, item_url=item, creator=author)
    return like if creator is like.creator else replace(like, creator=creator)
