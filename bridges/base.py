"""The one interface every bridged network implements, and the types it speaks.

A network module (``bridges/fediverse.py``, ``bridges/bluesky.py``, …) turns a donor's account
on that network into pages of likes, and a liked item into the creator `Creator` it belongs to.
It holds no state of its own: the server keeps the `Credentials` (encrypted) and the cursor,
and passes them in on every call. All I/O goes through the `httpx.AsyncClient` the caller
hands over (the instance's one client), behind `bridges.http.Fetcher` (SSRF guard, size limit,
rate-limit headers). Nothing here imports the server.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bridges.budgets import Budget


class ConnectKind(enum.StrEnum):
    oauth2 = "oauth2"  # authorization code with PKCE (static or dynamically registered client)
    oauth1 = "oauth1"  # OAuth 1.0a three-legged
    handle_proof = "handle_proof"  # a handle plus a code the donor places on the network


@dataclass(frozen=True)
class Creator:
    """Who made a liked item, on its own network: the server's `Identity`."""

    network: str  # "fediverse", "bluesky", …
    external_id: str  # fediverse: actor URI; bluesky: DID; others: the network's stable id
    handle: str = ""  # for display: "@user@host", "alice.bsky.social"
    profile_url: str = ""
    # Other ids the same creator may be known by on this network, where a data export names
    # creators by something other than the stable id (X's archive: the lowercased handle).
    # Claiming the creator claims those identities too, where they exist.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Like:
    """One like the donor gave on the network."""

    like_id: str  # the network's id of the like (or of the item where likes have none)
    item_id: str  # the network's stable id of the liked item
    item_url: str  # the item's canonical address (the server's `Thing.uri`)
    creator: Creator
    title: str = ""
    liked_at: datetime | None = None  # None where the network does not say when


@dataclass(frozen=True)
class LikesPage:
    likes: tuple[Like, ...]
    # Where the next call continues; None when this page was the last one for now.
    next_cursor: str | None
    # The cursor to keep once every page of this round is read (the newest position),
    # where the network pages from newest to oldest; None to keep `next_cursor`.
    resume_cursor: str | None = None
    rate: RateInfo | None = None
    # The round stopped at the module's page bound with older pages left unread: a like it
    # did not see again may still be there, so the server must not take it as taken back.
    truncated: bool = False

    @property
    def cursor_to_keep(self) -> str | None:
        """What to store once the round stops after this page: the newest position where
        the network gave one, else `next_cursor` (None: start from the top next time).

        A polling round: call `list_likes` with the stored cursor; while `next_cursor` is
        set, store it (a checkpoint a crash resumes from) and call again with it; after
        the last page (or when the caller stops following older pages), store
        `cursor_to_keep`. The next round then sees only likes newer than this one's."""
        return self.resume_cursor if self.resume_cursor is not None else self.next_cursor


@dataclass(frozen=True)
class RateInfo:
    """What the network said of its limits on the last response."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None


@dataclass
class Credentials:
    """What the server stores (encrypted) for one connected account."""

    access_token: str = ""
    refresh_token: str = ""
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    # Network-specific: the Mastodon server's base URL and client id/secret, a PDS URL, …
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectStart:
    """The first step of connecting: where to send the donor, and what to keep until they
    come back (PKCE verifier, a dynamically registered client, a proof code)."""

    kind: ConnectKind
    redirect_to: str  # the network's authorization page ("" for handle_proof)
    pending: Mapping[str, str]  # kept server-side (encrypted), handed back to finish_connect
    instructions: str = ""  # handle_proof: what the donor must post or put in the profile


@dataclass(frozen=True)
class Connection:
    """A finished connection: the donor's own identity there and the credentials."""

    account: Creator  # the donor's own account on that network
    credentials: Credentials


@dataclass(frozen=True)
class NetworkConfig:
    """An admin's configuration of one network (config.toml `[bridges.<name>]`), plus the
    instance facts a network module needs."""

    client_id: str = ""
    client_secret: str = ""
    base_url: str = ""  # the network's API root; tests point it at a fake on loopback
    app_name: str = "Likewise"  # shown by networks that register apps dynamically
    website: str = ""  # the instance's base URL
    allow_private: bool = False  # dev/test mode: loopback and http allowed
    user_agent: str = "Likewise"
    # Bluesky: the did:plc directory (https://plc.directory); tests point it at a fake.
    directory_url: str = ""
    # The limit of the budget the network's class declares (`budget_terms`: X's requests a
    # month, YouTube's quota units a day), from the admin's table or the default; 0: none.
    budget_limit: int = 0
    # The instance's shared budget a network spends from before each call, kept by the
    # server; None counts nothing.
    budget: Budget | None = None


class Network(Protocol):
    name: str  # registry key and `bridge:<name>` click source
    label: str  # "Mastodon and other fediverse servers", "Bluesky", …
    connect_kind: ConnectKind
    # Whether connecting starts from the donor's handle there (a fediverse server to find, a
    # Bluesky handle to prove); networks with one OAuth app learn who signed in.
    asks_handle: bool
    # What else a creator may claim there by naming it when signing in ("organisation" on
    # GitHub, "blog" on Tumblr: `verify_claim` proves they administer it); "" for nothing.
    group_claim: str
    # Whether the network's rate limit is one budget for every account the instance reads
    # (Bluesky: per caller address) rather than one per account's token (Mastodon).
    shared_rate_limit: bool

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart: ...

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection: ...

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage: ...

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like: ...

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """A creator proving they own an identity (same flow as connecting, or a code)."""
        ...

    async def refresh(self, credentials: Credentials) -> Credentials: ...
