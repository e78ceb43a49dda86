"""Origins (RFC 6454): the scheme, host and port that decide who a URL belongs to."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, lowercased host, port) of an http(s) URL; None for anything else, and for
    a URL with user info (`https://someone@host/`), which belongs to nobody."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def same_origin(url: str, other: str) -> bool:
    origin = origin_of(url)
    return origin is not None and origin == origin_of(other)
