"""NodeInfo 2.0 / 2.1 documents, and the metadata by which an instance says it settles.

Settlement advertisement (ours, inside the schema's free-form `metadata`):

    "metadata": {
        "likewise": {
            "settlement": {"currency": "EUR", "protocol": "likewise-settlement/1"}
        }
    }

An instance without that key, or with another protocol, does not settle with us.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from activitypub.errors import InvalidDocument

SOFTWARE_NAME = "likewise"
SETTLEMENT_PROTOCOL = "likewise-settlement/1"
SCHEMA_REL = "http://nodeinfo.diaspora.software/ns/schema/{version}"
SUPPORTED_VERSIONS = ("2.0", "2.1")
TOP_LEVEL_KEYS = frozenset(
    {"version", "software", "protocols", "services", "openRegistrations", "usage", "metadata"}
)


def build_nodeinfo_links(base_url: str) -> dict[str, object]:
    """The /.well-known/nodeinfo document, pointing at `<base>/nodeinfo/<version>`."""
    base = base_url.rstrip("/")
    return {
        "links": [
            {"rel": SCHEMA_REL.format(version=version), "href": f"{base}/nodeinfo/{version}"}
            for version in SUPPORTED_VERSIONS
        ]
    }


@dataclass(frozen=True)
class Usage:
    users_total: int
    users_active_month: int
    users_active_halfyear: int
    local_posts: int


def settlement_metadata(currency: str, actor: str | None = None) -> dict[str, object]:
    """The `metadata` entry that advertises settlement in `currency`, and the instance
    actor that sends and receives settlement documents."""
    offer: dict[str, object] = {"currency": currency, "protocol": SETTLEMENT_PROTOCOL}
    if actor is not None:
        offer["actor"] = actor
    return {"likewise": {"settlement": offer}}


def build_nodeinfo(
    version: str,
    software_version: str,
    usage: Usage,
    open_registrations: bool,
    metadata: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """A NodeInfo document; exactly the schema's top-level keys, custom data in metadata."""
    if version not in SUPPORTED_VERSIONS:
        raise InvalidDocument(f"unsupported NodeInfo version {version!r}")
    return {
        "version": version,
        "software": {"name": SOFTWARE_NAME, "version": software_version},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": usage.users_total,
                "activeMonth": usage.users_active_month,
                "activeHalfyear": usage.users_active_halfyear,
            },
            "localPosts": usage.local_posts,
        },
        "metadata": dict(metadata or {}),
    }


def parse_nodeinfo_links(data: object) -> str:
    """The href of the newest supported schema in a /.well-known/nodeinfo document."""
    links = data.get("links") if isinstance(data, Mapping) else None
    if not isinstance(links, list):
        raise InvalidDocument("nodeinfo links must be a list")
    found: dict[str, str] = {}
    for link in links:
        if isinstance(link, Mapping):
            rel, href = link.get("rel"), link.get("href")
            if isinstance(rel, str) and isinstance(href, str):
                found[rel] = href
    for version in reversed(SUPPORTED_VERSIONS):
        href = found.get(SCHEMA_REL.format(version=version))
        if href:
            return href
    raise InvalidDocument("no supported NodeInfo schema link")


@dataclass(frozen=True)
class Settlement:
    currency: str
    protocol: str
    actor: str | None = None


@dataclass(frozen=True)
class NodeInfo:
    version: str
    software_name: str
    software_version: str
    open_registrations: bool
    settlement: Settlement | None

    @property
    def settles(self) -> bool:
        return self.settlement is not None and self.settlement.protocol == SETTLEMENT_PROTOCOL


def _mapping(data: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _settlement(metadata: Mapping[str, object]) -> Settlement | None:
    offer = _mapping(_mapping(metadata, "likewise"), "settlement")
    currency, protocol = offer.get("currency"), offer.get("protocol")
    if not isinstance(currency, str) or not isinstance(protocol, str):
        return None
    if len(currency) != 3 or not currency.isascii() or not currency.isupper():
        return None
    actor = offer.get("actor")
    return Settlement(
        currency=currency, protocol=protocol, actor=actor if isinstance(actor, str) else None
    )


def parse_nodeinfo(data: object) -> NodeInfo:
    if not isinstance(data, Mapping):
        raise InvalidDocument("NodeInfo must be a JSON object")
    software = _mapping(data, "software")
    version, name = data.get("version"), software.get("name")
    if not isinstance(version, str) or not isinstance(name, str):
        raise InvalidDocument("NodeInfo needs version and software.name strings")
    software_version = software.get("version")
    return NodeInfo(
        version=version,
        software_name=name,
        software_version=software_version if isinstance(software_version, str) else "",
        open_registrations=data.get("openRegistrations") is True,
        settlement=_settlement(_mapping(data, "metadata")),
    )
