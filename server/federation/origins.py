"""Who a URL belongs to is decided by the URL's own origin (docs/security.md, "Who a URL
belongs to").

Here the origin is the host (with its port): `http://` and `https://` spellings of a page
belong to the same site, and a URL that carries a user name (`https://someone@host/`)
belongs to nobody. A remote object may name a web address (`url`) for itself; it is
believed only on the object's own host, the host of its id. Whatever a third party says
about a URL it does not serve is dropped before it can decide where money goes.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """The URL's `host[:port]`, lowercased; "" when it has none, does not parse, or carries
    a user name."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if "@" in parts.netloc:
        return ""
    return parts.netloc.lower()


def same_host(url: str, owner: str) -> bool:
    """True when `url` is served by the host of `owner` (an object or actor id)."""
    host = host_of(url)
    return bool(host) and host == host_of(owner)


def own_url(url: str | None, owner: str) -> str:
    """The web address `owner` gives for itself if its own host serves it, else `owner`
    (an object's id is also its address, as when it names no `url`)."""
    return url if url and same_host(url, owner) else owner
