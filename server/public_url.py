"""The instance's public base URL, recorded in the data directory by the first `serve`.

Actor, status and key ids are minted from the base URL and live on in other servers for
good, so every process (serve, worker, CLI) must mint them alike. The first `likewise serve`
records `scheme://host[:port]` as `public_url` in config.toml; afterwards every process takes
its domain and scheme from there, and a setting that disagrees is refused, not followed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PUBLIC_URL_KEY = "public_url"
PUBLIC_URL_PATTERN = re.compile(
    r"(https?)://([A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?)"
)


class PublicURLError(Exception):
    """The recorded public URL is malformed, or a setting disagrees with it."""


@dataclass(frozen=True)
class PublicURL:
    scheme: str
    domain: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host(self) -> str:
        if self.domain.startswith("["):
            return self.domain.split("]")[0] + "]"
        return self.domain.split(":")[0]


def parse_public_url(value: object, path: Path) -> PublicURL:
    text = value if isinstance(value, str) else ""
    match = PUBLIC_URL_PATTERN.fullmatch(text.strip().rstrip("/"))
    if match is None:
        raise PublicURLError(
            f"{path}: public_url {value!r} is not scheme://host[:port] (e.g. https://example.org)"
        )
    return PublicURL(match.group(1), match.group(2).lower())


def _how_to_change(path: Path) -> str:
    return (
        f"To move the instance deliberately, edit public_url in {path} "
        "(accounts and posts already known elsewhere keep their old addresses there)."
    )


def adopt_public_url(
    recorded: PublicURL,
    values: Mapping[str, Any],
    default_domain: str | None,
    path: Path,
    loopback: bool,
) -> dict[str, Any]:
    """The settings `recorded` fixes (domain, and dev or tls for its scheme), given the
    `values` from config, environment and command line, which must agree with it.
    `default_domain` is the address `serve` listens on; `loopback`: the recorded host is."""
    origin = f"this data directory's public URL is {recorded} (recorded in {path})"
    explicit = values.get("domain")
    wanted = str(explicit or default_domain or recorded.domain)
    if wanted.lower() != recorded.domain:
        source = (
            f"LIKEWISE_DOMAIN (or domain in config.toml) is {wanted}"
            if explicit
            else f"`serve` would answer at {wanted}"
        )
        hint = "" if explicit else f" Set LIKEWISE_DOMAIN={recorded.domain} if a proxy forwards it."
        raise PublicURLError(f"{origin}, but {source}.{hint} {_how_to_change(path)}")
    changes: dict[str, Any] = {"domain": recorded.domain}
    dev = values.get("dev", loopback)
    if recorded.scheme == "https":
        if values.get("tls") is False and dev:
            raise PublicURLError(
                f"{origin}, but `serve` was started without --ssl-certfile and --ssl-keyfile "
                f"in dev mode, which serves http. Add them. {_how_to_change(path)}"
            )
        changes["tls"] = True
        return changes
    if values.get("tls"):
        raise PublicURLError(
            f"{origin}, but `serve` was started with --ssl-certfile, which serves https. "
            f"{_how_to_change(path)}"
        )
    if values.get("dev") is False:
        raise PublicURLError(
            f"{origin}, but dev mode is off (LIKEWISE_DEV=0), which means https. "
            f"{_how_to_change(path)}"
        )
    changes["dev"] = True
    return changes


def public_url_line(url: str) -> str:
    """The config.toml lines that record `url`: put first, they are top-level whatever
    tables the file holds, and the admin's comments below stay as they were."""
    return (
        "# Recorded by the first `likewise serve`: ids of actors and posts are minted from it.\n"
        f'{PUBLIC_URL_KEY} = "{url}"\n'
    )
