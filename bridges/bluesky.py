"""Bluesky: likes are `app.bsky.feed.like` records in the donor's repository, read with
`com.atproto.repo.listRecords` on their PDS (public, no token), the PDS found in their DID
document (`#atproto_pds`: did:plc from the PLC directory, did:web from the host's
`/.well-known/did.json`).

Connecting is by handle plus proof: atproto OAuth needs PAR, DPoP and a client metadata
document served at a public URL, which is out of scope here. `start_connect` resolves the
handle to its DID (`com.atproto.identity.resolveHandle` on the AppView, else
`https://<handle>/.well-known/atproto-did`) and hands out a code; `finish_connect` (and
`verify_claim`, for creators) looks for it in the profile description
(`app.bsky.actor.getProfile`) or the author's recent posts (`app.bsky.feed.getAuthorFeed`)
on the AppView. Credentials hold no token, only `extra = {"did", "pds"}`.

A Like: `like_id` is the like record's `at://<donor did>/app.bsky.feed.like/<rkey>`;
`item_id` and `item_url` are the liked post's `at://` URI (the canonical one: it survives
handle changes; `bsky_app_url` gives the web address); the creator is the DID in it, with
no handle (listRecords carries none; `resolve_item` asks the AppView); `liked_at` is the
record's `createdAt`, parsed strictly (RFC 3339 with a zone). Likes of anything but posts
(feeds, lists) are left out silently; a malformed record fails the page with `BadPayload`.

Cursors (query strings; record keys are TIDs, which sort by time):
- None: the newest page (listRecords newest first).
- `before=<rkey>&newest=<rkey>&pages=<n>`: older pages of the first round.
- `after=<rkey>`: records newer than that, oldest first (`reverse=true`: the PDS then
  answers rkeys above the cursor).
Every page's `resume_cursor` is `after=<the newest rkey seen>`. The PDS's own cursor is the
last rkey of the page; one that does not move on (a loop) or records out of order fail.

A deleted like record is an unlike: `like_exists` asks the PDS for one record, and
`parse_jetstream_event` reads Jetstream's create and delete commits.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from urllib.parse import unquote

import httpx

from bridges.base import (
    Connection,
    ConnectKind,
    ConnectStart,
    Creator,
    Credentials,
    Like,
    LikesPage,
    NetworkConfig,
)
from bridges.cursors import CursorFormat
from bridges.errors import BadPayload, ConnectFailed, UnexpectedStatus
from bridges.http import Fetched, Fetcher, check_uri, scheme_for

APPVIEW = "https://public.api.bsky.app"
PLC_DIRECTORY = "https://plc.directory"
LIKE = "app.bsky.feed.like"
POST = "app.bsky.feed.post"
PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 50
TITLE_LENGTH = 120
DID_RE = re.compile(r"did:plc:[a-z2-7]{24}|did:web:[A-Za-z0-9.-]+(%3A[0-9]{1,5})?")
HANDLE_RE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
NSID_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+){2,}")
RKEY_RE = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
DATETIME_RE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


# --- identifiers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AtUri:
    did: str
    collection: str
    rkey: str

    def __str__(self) -> str:
        return f"at://{self.did}/{self.collection}/{self.rkey}"


def check_did(value: object, what: str = "DID") -> str:
    if not isinstance(value, str) or not DID_RE.fullmatch(value):
        raise BadPayload(f"{what}: not a DID we accept: {str(value)[:80]!r}")
    return value


def check_rkey(value: object, what: str = "record key") -> str:
    if not isinstance(value, str) or not RKEY_RE.fullmatch(value) or value in (".", ".."):
        raise BadPayload(f"{what}: not a record key: {str(value)[:80]!r}")
    return value


def parse_at_uri(value: object, what: str = "AT URI") -> AtUri:
    """`at://<did>/<collection>/<rkey>` exactly: no handle authority, query, fragment or
    other segments (BadPayload otherwise)."""
    if not isinstance(value, str) or not value.startswith("at://") or len(value) > 1024:
        raise BadPayload(f"{what}: not an AT URI: {str(value)[:80]!r}")
    parts = value[len("at://") :].split("/")
    if len(parts) != 3 or not NSID_RE.fullmatch(parts[1]):
        raise BadPayload(f"{what}: not a record's AT URI: {value[:80]!r}")
    return AtUri(check_did(parts[0], what), parts[1], check_rkey(parts[2], what))


def parse_datetime(value: object, what: str = "createdAt") -> datetime:
    """An RFC 3339 time with its zone, as UTC (BadPayload for anything looser)."""
    match = DATETIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise BadPayload(f"{what}: not an RFC 3339 time: {str(value)[:40]!r}")
    whole, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(f"{whole}.{micro}{'+00:00' if zone == 'Z' else zone}")
    except ValueError as error:
        raise BadPayload(f"{what}: not a time: {value!r}") from error
    return moment.astimezone(UTC)


def bsky_app_url(uri: str) -> str:
    """The bsky.app address of a post's AT URI (for people; the AT URI is the id)."""
    at = parse_at_uri(uri)
    return f"https://bsky.app/profile/{at.did}/post/{at.rkey}"


def creator_for(did: str, handle: str = "") -> Creator:
    return Creator("bluesky", did, handle, f"https://bsky.app/profile/{did}")


def parse_like_record(record: Mapping[str, object], owner: str, where: str) -> Like | None:
    """One like record (`uri` and `value`) of `owner` as a Like; None for a like of
    something other than a post."""
    uri = parse_at_uri(record.get("uri"), f"{where} uri")
    if uri.did != owner or uri.collection != LIKE:
        raise BadPayload(f"{where}: {uri} is not a like of {owner}")
    value = record.get("value")
    if not isinstance(value, dict):
        raise BadPayload(f"{where}: a record without a value")
    return like_from_value(str(uri), value, where)


def like_from_value(like_uri: str, value: Mapping[str, object], where: str) -> Like | None:
    if value.get("$type", LIKE) != LIKE:
        raise BadPayload(f"{where}: not a like record")
    subject = value.get("subject")
    if not isinstance(subject, dict):
        raise BadPayload(f"{where}: a like without a subject")
    target = parse_at_uri(subject.get("uri"), f"{where} subject")
    liked_at = parse_datetime(value.get("createdAt"), f"{where} createdAt")
    if target.collection != POST:
        return None
    return Like(like_uri, str(target), str(target), creator_for(target.did), "", liked_at)


# --- Jetstream --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JetstreamLike:
    """A like created or deleted, from one Jetstream event. `time_us` is the stream's
    cursor (rewind a few seconds on reconnect; handle events idempotently)."""

    did: str
    operation: str  # "create" or "delete"
    like_uri: str
    time_us: int
    like: Like | None  # the like on "create" (None if it likes something other than a post)


def parse_jetstream_event(data: bytes | str) -> JetstreamLike | None:
    """A Jetstream event as a like created or deleted; None for every other event (account
    and identity events, other collections, updates). BadPayload when it is malformed."""
    try:
        event = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise BadPayload("a Jetstream event that is not JSON") from error
    if not isinstance(event, dict) or event.get("kind") != "commit":
        return None
    commit = event.get("commit")
    if not isinstance(commit, dict) or commit.get("collection") != LIKE:
        return None
    did = check_did(event.get("did"), "Jetstream did")
    time_us = event.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us < 0:
        raise BadPayload("a Jetstream event without time_us")
    like_uri = str(AtUri(did, LIKE, check_rkey(commit.get("rkey"), "Jetstream rkey")))
    operation = commit.get("operation")
    if operation == "delete":
        return JetstreamLike(did, "delete", like_uri, time_us, None)
    if operation != "create":
        return None
    record = commit.get("record")
    if not isinstance(record, dict):
        raise BadPayload("a Jetstream create without a record")
    like = like_from_value(like_uri, record, "Jetstream record")
    return JetstreamLike(did, "create", like_uri, time_us, like)


# --- cursors --------------------------------------------------------------------------------


CURSOR = CursorFormat("Bluesky", older="before", newer="after", check_id=check_rkey)
_cursor = CURSOR.parse
newer_than = CURSOR.newer_than


class BlueskyNetwork:
    """Bluesky accounts, connected by handle and proof; likes from the donor's PDS."""

    name = "bluesky"
    label = "Bluesky"
    connect_kind = ConnectKind.handle_proof
    asks_handle = True
    group_claim = ""
    shared_rate_limit = True

    @classmethod
    def is_configured(cls, config: NetworkConfig) -> bool:
        return True  # nothing to register: see bridges.registry.configured

    def __init__(self, http: httpx.AsyncClient, config: NetworkConfig) -> None:
        self.config = config
        self.appview = (config.base_url or APPVIEW).rstrip("/")
        self.directory = (config.directory_url or PLC_DIRECTORY).rstrip("/")
        self.fetcher = Fetcher(
            http, allow_private=config.allow_private, user_agent=config.user_agent
        )

    async def _xrpc(self, base: str, method: str, params: Mapping[str, str]) -> Fetched:
        return await self.fetcher.get(f"{base}/xrpc/{method}", params=params)

    # --- identity -------------------------------------------------------------------------

    async def resolve_handle(self, handle: str) -> str:
        """A handle's DID: the AppView's resolveHandle, else the handle's own well-known."""
        try:
            fetched = await self._xrpc(
                self.appview, "com.atproto.identity.resolveHandle", {"handle": handle}
            )
            return check_did(fetched.json_object().get("did"), f"the DID of {handle}")
        except UnexpectedStatus:
            pass
        host = f"{scheme_for(handle, self.config.allow_private)}://{handle}"
        fetched = await self.fetcher.get(f"{host}/.well-known/atproto-did", accept="text/plain")
        return check_did(fetched.text().strip(), f"the DID of {handle}")

    async def did_document(self, did: str) -> dict[str, object]:
        check_did(did)
        if did.startswith("did:plc:"):
            url = f"{self.directory}/{did}"
        else:
            host = unquote(did.removeprefix("did:web:"))
            url = f"{scheme_for(host, self.config.allow_private)}://{host}/.well-known/did.json"
        document = (await self.fetcher.get(url)).json_object()
        if document.get("id") != did:
            raise BadPayload(f"{url} is the DID document of {str(document.get('id'))[:80]!r}")
        return document

    async def pds_for(self, did: str) -> tuple[str, tuple[str, ...]]:
        """The PDS base URL from the DID document, and the handles it claims."""
        document = await self.did_document(did)
        services = document.get("service")
        pds = ""
        for service in services if isinstance(services, list) else []:
            if isinstance(service, dict) and service.get("id") in (
                "#atproto_pds",
                f"{did}#atproto_pds",
            ):
                endpoint = service.get("serviceEndpoint")
                pds = check_uri(endpoint, f"{did} PDS", self.config.allow_private).rstrip("/")
        if not pds:
            raise BadPayload(f"{did} names no PDS")
        aliases = document.get("alsoKnownAs")
        handles = tuple(
            alias.removeprefix("at://")
            for alias in (aliases if isinstance(aliases, list) else [])
            if isinstance(alias, str) and alias.startswith("at://")
        )
        return pds, handles

    # --- connecting ------------------------------------------------------------------------

    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart:
        """Resolve the handle (or take a DID) and hand out the code to show. `pending` keeps
        did, handle, pds and code."""
        text = handle.strip().removeprefix("@").lower()
        if DID_RE.fullmatch(text):
            did, claimed = text, ""
        elif HANDLE_RE.fullmatch(text):
            did, claimed = await self.resolve_handle(text), text
        else:
            raise ConnectFailed(f"not a Bluesky handle: {handle[:80]!r}")
        pds, handles = await self.pds_for(did)
        shown = claimed if claimed in handles else (handles[0] if handles else "")
        code = f"likewise-{secrets.token_hex(5)}"
        pending = {"did": did, "handle": shown, "pds": pds, "code": code, "state": state}
        instructions = (
            f"Put {code} in your Bluesky profile description, or in a post, then confirm here. "
            "You can remove it once connected."
        )
        return ConnectStart(self.connect_kind, "", pending, instructions)

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection:
        account = await self.verify_claim(pending, callback)
        extra = {"did": account.external_id, "pds": pending["pds"]}
        return Connection(account, Credentials(extra=extra))

    async def verify_claim(
        self, pending: Mapping[str, str], callback: Mapping[str, str]
    ) -> Creator:
        """Whether the code is in the profile description or one of the recent posts."""
        did, code = pending["did"], pending["code"]
        profile = (
            await self._xrpc(self.appview, "app.bsky.actor.getProfile", {"actor": did})
        ).json_object()
        if profile.get("did") != did:
            raise BadPayload(
                f"the AppView answered the profile of {str(profile.get('did'))[:80]!r}"
            )
        description = profile.get("description")
        if not (isinstance(description, str) and code in description):
            if not await self._posted(did, code):
                raise ConnectFailed(f"{code} is neither in the profile nor in a recent post")
        handle = pending.get("handle", "")
        return creator_for(did, handle)

    async def _posted(self, did: str, code: str) -> bool:
        feed = (
            await self._xrpc(
                self.appview,
                "app.bsky.feed.getAuthorFeed",
                {"actor": did, "limit": "20", "filter": "posts_no_replies"},
            )
        ).json_object()
        items = feed.get("feed")
        for item in items if isinstance(items, list) else []:
            post = item.get("post") if isinstance(item, dict) else None
            if not isinstance(post, dict) or item.get("reason") is not None:
                continue  # a repost is someone else's text
            try:
                if parse_at_uri(post.get("uri")).did != did:
                    continue
            except BadPayload:
                continue
            record = post.get("record")
            text = record.get("text") if isinstance(record, dict) else None
            if isinstance(text, str) and code in text:
                return True
        return False

    async def refresh(self, credentials: Credentials) -> Credentials:
        """No token to refresh: the PDS is read again from the DID document (accounts move)."""
        did = credentials.extra["did"]
        pds, _ = await self.pds_for(did)
        return Credentials(extra={**credentials.extra, "pds": pds})

    # --- likes ----------------------------------------------------------------------------

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the donor's like records (see the module doc for the cursors)."""
        did, pds = check_did(credentials.extra["did"]), credentials.extra["pds"]
        position = _cursor(cursor)
        params = {"repo": did, "collection": LIKE, "limit": str(PAGE_SIZE)}
        forward = "after" in position
        if forward:
            params.update(reverse="true", cursor=position["after"])
        elif "before" in position:
            params["cursor"] = position["before"]
        fetched = await self._xrpc(pds, "com.atproto.repo.listRecords", params)
        document = fetched.json_object()
        records = document.get("records")
        if not isinstance(records, list) or len(records) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: records missing or more than {PAGE_SIZE}")
        rkeys, likes = self._read(records, did, fetched.url)
        self._check_order(rkeys, position, forward, fetched.url)
        more = len(records) == PAGE_SIZE and document.get("cursor") is not None
        if more:
            cursor_given = check_rkey(document.get("cursor"), f"{fetched.url} cursor")
            if cursor_given != rkeys[-1]:
                raise BadPayload(f"{fetched.url}: the cursor {cursor_given} is not the last record")
        if forward:
            resume = newer_than(rkeys[-1]) if rkeys else cursor
            return LikesPage(likes, resume if more else None, resume, fetched.rate)
        newest = position.get("newest") or (rkeys[0] if rkeys else None)
        resume = newer_than(newest) if newest else None
        pages = int(position.get("pages", "0")) + 1
        if not more or pages >= MAX_PAGES_PER_ROUND or newest is None:
            truncated = more and newest is not None
            return LikesPage(likes, None, resume, fetched.rate, truncated=truncated)
        older = CURSOR.older_than(rkeys[-1], newest, pages)
        return LikesPage(likes, older, resume, fetched.rate)

    def _read(
        self, records: list[object], did: str, url: str
    ) -> tuple[list[str], tuple[Like, ...]]:
        rkeys: list[str] = []
        likes: list[Like] = []
        for index, record in enumerate(records):
            where = f"{url} record {index}"
            if not isinstance(record, dict):
                raise BadPayload(f"{where}: not an object")
            like = parse_like_record(record, did, where)
            rkeys.append(parse_at_uri(record["uri"]).rkey)
            if like is not None:
                likes.append(like)
        return rkeys, tuple(likes)

    def _check_order(
        self, rkeys: list[str], position: Mapping[str, str], forward: bool, url: str
    ) -> None:
        bound = position.get("after") if forward else position.get("before")
        keys = [bound, *rkeys] if bound is not None else rkeys
        for earlier, later in pairwise(keys):
            if later <= earlier if forward else later >= earlier:
                raise BadPayload(f"{url}: records out of order or behind the cursor ({later})")

    async def like_exists(self, credentials: Credentials, like_id: str) -> bool:
        """Whether a like record is still there (a deleted one is an unlike)."""
        uri = parse_at_uri(like_id, "like id")
        if uri.did != credentials.extra["did"] or uri.collection != LIKE:
            raise BadPayload(f"{like_id} is not a like of {credentials.extra['did']}")
        params = {"repo": uri.did, "collection": LIKE, "rkey": uri.rkey}
        try:
            await self._xrpc(credentials.extra["pds"], "com.atproto.repo.getRecord", params)
        except UnexpectedStatus as error:
            if error.status in (400, 404):
                return False
            raise
        return True

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A post by its AT URI, from the AppView: its author's handle and its text."""
        uri = str(parse_at_uri(item_id, "item id"))
        fetched = await self._xrpc(self.appview, "app.bsky.feed.getPosts", {"uris": uri})
        posts = fetched.json_object().get("posts")
        post = posts[0] if isinstance(posts, list) and posts else None
        if not isinstance(post, dict) or post.get("uri") != uri:
            raise UnexpectedStatus(f"{uri} is not on the AppView", 404)
        author = post.get("author")
        did = parse_at_uri(uri).did
        handle = author.get("handle") if isinstance(author, dict) else None
        if not isinstance(author, dict) or author.get("did") != did:
            raise BadPayload(f"{uri}: the post's author is not {did}")
        record = post.get("record")
        text = record.get("text") if isinstance(record, dict) else None
        title = " ".join(text.split())[:TITLE_LENGTH] if isinstance(text, str) else ""
        shown = handle if isinstance(handle, str) and HANDLE_RE.fullmatch(handle) else ""
        return Like("", uri, uri, creator_for(did, shown), title, None)
