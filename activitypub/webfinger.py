"""WebFinger (RFC 7033) as Mastodon uses it: acct: resources and JRD documents."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from activitypub.errors import InvalidDocument, InvalidHandle
from activitypub.jsonld import ACTIVITY_JSON, LD_JSON_ACTIVITYSTREAMS

PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
SELF_REL = "self"
MAX_HANDLE_LENGTH = 512
# Mastodon's Account::USERNAME_RE for remote accounts: word characters, with dots and dashes
# only between them. Spelled out in ASCII: re's IGNORECASE lets U+017F and U+212A match s and k.
USERNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
MAX_USERNAME_LENGTH = 255
URI_PLACEHOLDER = "{uri}"
# An http(s) URL with a plain host (no user info, no backslash) and printable ASCII after it.
PLAIN_URL = re.compile(r"(?i:https?)://([A-Za-z0-9.-]+(?::[0-9]{1,5})?)(?:[/?#][!-~]*)?")


def is_valid_username(name: str) -> bool:
    """Whether a remote actor's preferredUsername can be shown as `name@host`."""
    return len(name) <= MAX_USERNAME_LENGTH and USERNAME.fullmatch(name) is not None


def parse_acct(resource: str) -> tuple[str, str]:
    """`acct:user@domain`, `user@domain` or `@user@domain` → (user, lowercased domain)."""
    value = resource.strip()
    if len(value) > MAX_HANDLE_LENGTH:
        raise InvalidHandle("handle too long")
    value = value.removeprefix("acct:").removeprefix("@")
    user, at, domain = value.rpartition("@")
    if not at or not user or not domain:
        raise InvalidHandle(f"{resource!r} is not user@domain")
    if any(ch in user for ch in "@/?# ") or any(ch in domain for ch in "@/?# "):
        raise InvalidHandle(f"{resource!r} is not user@domain")
    return user, domain.lower()


def subscribe_url(template: str, uri: str, domain: str) -> str:
    """The remote interaction address a handle's server offers, filled with `uri`; it must
    be an http(s) URL on the handle's own host (`domain`, as `parse_acct` gives it)."""
    if URI_PLACEHOLDER not in template:
        raise InvalidDocument("the subscribe template has no {uri}")
    url = template.replace(URI_PLACEHOLDER, quote(uri, safe=""))
    match = PLAIN_URL.fullmatch(url)
    if match is None or match.group(1).lower() != domain.lower():
        raise InvalidDocument(f"the subscribe template is not an http(s) URL on {domain}")
    return url


def build_jrd(
    user: str,
    domain: str,
    actor_id: str,
    profile_url: str,
    subscribe_template: str | None = None,
    aliases: Sequence[str] | None = None,
) -> dict[str, object]:
    """The JRD served at /.well-known/webfinger (as `application/jrd+json`)."""
    links: list[dict[str, str]] = [
        {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        {"rel": SELF_REL, "type": ACTIVITY_JSON, "href": actor_id},
    ]
    if subscribe_template:
        links.append({"rel": SUBSCRIBE_REL, "template": subscribe_template})
    return {
        "subject": f"acct:{user}@{domain}",
        "aliases": list(aliases) if aliases is not None else [profile_url, actor_id],
        "links": links,
    }


@dataclass(frozen=True)
class WebFingerResult:
    subject: str
    aliases: tuple[str, ...]
    self_href: str
    profile_page: str | None
    subscribe_template: str | None


def _links(data: Mapping[str, object]) -> list[Mapping[str, object]]:
    links = data.get("links", [])
    if not isinstance(links, list):
        raise InvalidDocument("JRD links must be a list")
    return [link for link in links if isinstance(link, Mapping)]


def _string(link: Mapping[str, object], key: str) -> str | None:
    value = link.get(key)
    return value if isinstance(value, str) else None


def parse_jrd(data: object) -> WebFingerResult:
    """Find the ActivityPub actor (`self` link with an ActivityPub type) in a JRD."""
    if not isinstance(data, Mapping):
        raise InvalidDocument("JRD must be a JSON object")
    subject = data.get("subject")
    if not isinstance(subject, str):
        raise InvalidDocument("JRD subject must be a string")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list):
        raise InvalidDocument("JRD aliases must be a list")
    self_href = profile = template = None
    for link in _links(data):
        rel = link.get("rel")
        if rel == SELF_REL and _string(link, "type") in {ACTIVITY_JSON, LD_JSON_ACTIVITYSTREAMS}:
            self_href = self_href or _string(link, "href")
        elif rel == PROFILE_PAGE_REL:
            profile = profile or _string(link, "href")
        elif rel == SUBSCRIBE_REL:
            template = template or _string(link, "template")
    if self_href is None:
        raise InvalidDocument("JRD has no ActivityPub self link")
    return WebFingerResult(
        subject=subject,
        aliases=tuple(alias for alias in aliases if isinstance(alias, str)),
        self_href=self_href,
        profile_page=profile,
        subscribe_template=template,
    )
