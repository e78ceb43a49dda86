"""JSON-LD contexts and the media types ActivityPub documents travel as."""

from __future__ import annotations

from email.message import Message

ACTIVITYSTREAMS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_V1_CONTEXT = "https://w3id.org/security/v1"
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
CID_CONTEXT = "https://www.w3.org/ns/cid/v1"
PUBLIC_COLLECTION = "https://www.w3.org/ns/activitystreams#Public"

# Terms Mastodon understands that are not in the ActivityStreams context.
MASTODON_EXTENSIONS: dict[str, object] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}

ACTIVITY_JSON = "application/activity+json"
LD_JSON_ACTIVITYSTREAMS = f'application/ld+json; profile="{ACTIVITYSTREAMS_CONTEXT}"'
JRD_JSON = "application/jrd+json"
# What we send in Accept when fetching; Mastodon sends the same pair.
FETCH_ACCEPT = f"{ACTIVITY_JSON}, {LD_JSON_ACTIVITYSTREAMS}"


def _parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    message = Message()
    message["content-type"] = value
    media_type = message.get_content_type().lower()
    params = {
        key.lower(): str(val) for key, val in message.get_params(failobj=[])[1:] if val is not None
    }
    return media_type, params


def _is_activity_media_type(media_type: str, params: dict[str, str]) -> bool:
    if media_type == ACTIVITY_JSON:
        return True
    if media_type != "application/ld+json":
        return False
    return ACTIVITYSTREAMS_CONTEXT in params.get("profile", "").split()


def is_activity_content_type(content_type: str | None) -> bool:
    """True for `application/activity+json` or ld+json with the ActivityStreams profile."""
    if not content_type:
        return False
    return _is_activity_media_type(*_parse_media_type(content_type))


def is_ld_json_content_type(content_type: str | None) -> bool:
    """True for any `application/ld+json`, whatever its profile."""
    if not content_type:
        return False
    return _parse_media_type(content_type)[0] == "application/ld+json"


def accepts_activity_json(accept_header: str | None) -> bool:
    """Whether a request's Accept header asks for ActivityPub JSON (not HTML)."""
    if not accept_header:
        return False
    for item in _split_accept(accept_header):
        media_type, params = _parse_media_type(item)
        if params.get("q", "1").strip() in {"0", "0.0", "0.00", "0.000"}:
            continue
        if _is_activity_media_type(media_type, params):
            return True
    return False


def _split_accept(value: str) -> list[str]:
    """Split on commas outside quoted strings (profiles are quoted URLs)."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def with_context(document: dict[str, object], context: str) -> dict[str, object]:
    """A copy of `document` whose `@context` includes `context` (appended if missing)."""
    current = document.get("@context")
    items: list[object] = (
        [] if current is None else (list(current) if isinstance(current, list) else [current])
    )
    if context not in items:
        items.append(context)
    return {**document, "@context": items[0] if len(items) == 1 else items}
