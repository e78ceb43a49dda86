"""YouTube: the donor's liked videos, read from their "Liked videos" playlist with the YouTube
Data API v3.

Connecting: Google's OAuth 2 code flow with PKCE (S256) and the client secret in the form,
authorize at `https://accounts.google.com/o/oauth2/v2/auth` with `access_type=offline` and
`prompt=consent` (so a refresh token comes every time), token at
`https://oauth2.googleapis.com/token`, scope `https://www.googleapis.com/auth/youtube.readonly`.
Access tokens live an hour; the refresh token renews them. `whoami` reads
`GET /youtube/v3/channels?part=snippet,contentDetails&mine=true`: the donor's channel id
(`UC…`, stable) is the identity, the title its handle, `https://www.youtube.com/channel/<id>`
its profile; the answer's `contentDetails.relatedPlaylists.likes` (usually "LL") is noted in
`credentials.extra["likes_playlist"]` (and `"channel_id"`), which `list_likes` reads. A creator
claims a channel the same way (`verify_claim`: signing in proves the channel is theirs).

Likes: `GET /youtube/v3/playlistItems?part=snippet,contentDetails&playlistId=<likes>&
maxResults=50&pageToken=…`, newest first. A `Like`: `like_id` is the playlist item's id,
`item_id` the video id (11 characters), `item_url` `https://www.youtube.com/watch?v=<id>`, the
creator the video's owner (`snippet.videoOwnerChannelId`, title as handle; the same identity
as `bridges.importers.youtube`), `liked_at` `snippet.publishedAt` (when the video was added
to the playlist, i.e. liked). A video without an owner (deleted or private: YouTube leaves
the owner out) is skipped silently; it has no creator to pay.

Cursors (query strings, every key checked; a token-paged round of `bridges.rounds`): pages
carry Google's opaque `pageToken`, and the playlist has no "since" parameter, so a round reads
from the top down and stops at what the previous round saw: `stop` (the video ids of the newest
likes seen, up to `rounds.STOP_IDS`) and `stop_at` (the newest like time, Unix seconds); a like
older than `stop_at`, or one of those ids, ends the round. A round reads at most
`MAX_PAGES_PER_ROUND` pages. Inside a round, `page=<token>&head=…&head_at=…&pages=<n>`
continues it, keeping the round's own newest likes (`head`) so every page's `resume_cursor`
(`stop=<head>&stop_at=…`) is right whenever the round stops.

Quota: every list call costs 1 unit of the project's 10,000 a day (a Pacific-time day;
`[bridges.youtube] daily_units` where Google granted more, declared in `budget_terms`).
`QUOTA_COST` names the units per call; the network spends them from a `bridges.budgets.Budget`
the server passes in (default: unlimited) before each call, under the period key of `QUOTA`
("2026-12-06", the Pacific date), and raises `QuotaSpent` (a `RateLimited` until midnight
Pacific) once the budget says no. Google answers an exhausted
quota with 403 and `error.errors[].reason` `quotaExceeded` or `dailyLimitExceeded`: that is
`RateLimited` until midnight Pacific too, not a revoked token (the reads expect 403 and
decide here); `rateLimitExceeded`/`userRateLimitExceeded` wait a minute; another 403 with a
token is `TokenRevoked` (or `TokenExpired` where a refresh token exists).

Hostile answers fail the page with `BadPayload`: not the documented shape, more items than
asked, a video twice, ids with other characters, times that are not RFC 3339, a next page
token that does not move.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar
from zoneinfo import ZoneInfo

import httpx

from bridges.base import Creator, Credentials, Like, LikesPage, NetworkConfig
from bridges.bluesky import parse_datetime
from bridges.budgets import Budget, BudgetTerms, Period, Unlimited
from bridges.errors import BadPayload, BudgetSpent, RateLimited, TokenExpired, TokenRevoked
from bridges.http import Fetched, check_uri, retry_after
from bridges.oauth2 import Endpoints, OAuth2Network
from bridges.rounds import (
    PAGE_TOKEN_RE,
    Seen,
    check,
    parse_position,
    plain_title,
    refuse_expired,
    round_page,
)

PAGE_SIZE = 50
MAX_PAGES_PER_ROUND = 20
QUOTA_COST: Mapping[str, int] = {"channels.list": 1, "playlistItems.list": 1}
PACIFIC = ZoneInfo("America/Los_Angeles")
VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_-]{11}")
CHANNEL_ID_RE = re.compile(r"UC[A-Za-z0-9_-]{22}")
ITEM_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
PLAYLIST_ID_RE = re.compile(r"[A-Za-z0-9_-]{2,64}")
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


# --- quota ----------------------------------------------------------------------------------


class QuotaSpent(BudgetSpent):
    """The instance's YouTube quota for today is spent: wait until midnight Pacific."""


# Google gives a project 10,000 units a day unless it asked for more (`[bridges.youtube]
# daily_units`); the day is the Pacific date.
QUOTA = BudgetTerms(
    "daily_units", 10_000, Period("day", PACIFIC), "Quota units today (Pacific time)"
)


def channel_creator(channel_id: str, title: str = "") -> Creator:
    return Creator(
        "youtube",
        channel_id,
        plain_title(title, 200),
        f"https://www.youtube.com/channel/{channel_id}",
    )


def _object(document: Mapping[str, object], key: str, where: str) -> dict[str, object]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise BadPayload(f"{where}: no {key!r} object")
    return value


# --- the network -----------------------------------------------------------------------------


class YoutubeNetwork(OAuth2Network):
    """YouTube accounts through Google OAuth; likes from the liked-videos playlist."""

    name = "youtube"
    label = "YouTube"
    endpoints: ClassVar[Endpoints] = Endpoints(
        authorize="https://accounts.google.com/o/oauth2/v2/auth",
        token="https://oauth2.googleapis.com/token",
        api="https://www.googleapis.com/youtube/v3",
    )
    scopes: ClassVar[tuple[str, ...]] = ("https://www.googleapis.com/auth/youtube.readonly",)
    authorize_params: ClassVar[Mapping[str, str]] = {
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    shared_rate_limit = True  # the quota is the project's, whoever's token reads
    budget_terms: ClassVar[BudgetTerms] = QUOTA

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: NetworkConfig,
        quota: Budget | None = None,
    ) -> None:
        super().__init__(http, config)
        self.quota: Budget = quota or config.budget or Unlimited()

    async def _read(
        self, credentials: Credentials, method: str, path: str, params: Mapping[str, str]
    ) -> Fetched:
        """One API call: its quota units spent first, Google's 403s decided here."""
        units = QUOTA_COST[method]
        refuse_expired(credentials, self.label)
        if not await self.quota.spend(QUOTA.period.key(), units):
            raise QuotaSpent(
                "the YouTube quota of this instance is spent for today (Pacific time)",
                QUOTA.period.seconds_left(),
            )
        fetched = await self.api_get(credentials, path, params, expect=(200, 403))
        if fetched.status == 403:
            self._forbidden(fetched, credentials)
        return fetched

    def _forbidden(self, fetched: Fetched, credentials: Credentials) -> None:
        reasons: set[str] = set()
        message = ""
        try:
            error = fetched.json_object().get("error")
        except BadPayload:
            error = None
        if isinstance(error, dict):
            message = str(error.get("message", ""))[:200]
            for item in error.get("errors") or []:
                if isinstance(item, dict) and isinstance(item.get("reason"), str):
                    reasons.add(item["reason"])
        if reasons & QUOTA_REASONS:
            raise RateLimited(
                f"{fetched.url}: the YouTube quota is exceeded ({', '.join(sorted(reasons))})",
                QUOTA.period.seconds_left(),
            )
        if reasons & RATE_REASONS:
            raise RateLimited(f"{fetched.url}: rate limited", retry_after(fetched.headers))
        said = f"{fetched.url} answered 403: {message or ', '.join(sorted(reasons))}"
        if credentials.refresh_token:
            raise TokenExpired(said)
        raise TokenRevoked(said)

    # --- who --------------------------------------------------------------------------------

    async def whoami(self, credentials: Credentials) -> Creator:
        """The signed-in channel; notes its likes playlist in `credentials.extra`."""
        params = {"part": "snippet,contentDetails", "mine": "true", "maxResults": "1"}
        fetched = await self._read(credentials, "channels.list", "/channels", params)
        items = fetched.json_object().get("items")
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise BadPayload(f"{fetched.url}: the account has no YouTube channel")
        channel = items[0]
        channel_id = check(CHANNEL_ID_RE, channel.get("id"), "channel id")
        snippet = _object(channel, "snippet", fetched.url)
        related = _object(_object(channel, "contentDetails", fetched.url), "relatedPlaylists", "")
        likes = related.get("likes")
        if likes:
            credentials.extra["likes_playlist"] = check(PLAYLIST_ID_RE, likes, "likes playlist")
        credentials.extra["channel_id"] = channel_id
        return channel_creator(channel_id, str(snippet.get("title", "")))

    # --- likes ------------------------------------------------------------------------------

    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage:
        """One page of the liked-videos playlist (see the module doc for the cursors)."""
        position = parse_position(cursor, VIDEO_ID_RE, "YouTube")
        playlist = credentials.extra.get("likes_playlist", "")
        if not playlist:
            await self.whoami(credentials)
            playlist = credentials.extra.get("likes_playlist", "")
            if not playlist:
                raise BadPayload("the YouTube channel names no liked-videos playlist")
        params = {
            "part": "snippet,contentDetails",
            "playlistId": check(PLAYLIST_ID_RE, playlist, "likes playlist"),
            "maxResults": str(PAGE_SIZE),
        }
        if position.page:
            params["pageToken"] = position.page
        fetched = await self._read(credentials, "playlistItems.list", "/playlistItems", params)
        document = fetched.json_object()
        items = document.get("items")
        if not isinstance(items, list) or len(items) > PAGE_SIZE:
            raise BadPayload(f"{fetched.url}: items missing or more than {PAGE_SIZE}")
        seen = self._read_items(items, fetched.url)
        token = document.get("nextPageToken")
        next_page = check(PAGE_TOKEN_RE, token, "nextPageToken") if token else None
        return round_page(position, seen, next_page, fetched, MAX_PAGES_PER_ROUND)

    def _read_items(self, items: list[object], url: str) -> list[Seen]:
        seen: list[Seen] = []
        videos: set[str] = set()
        for index, item in enumerate(items):
            entry = self.parse_item(item, f"{url} item {index}")
            if entry is None:
                continue
            if entry.key in videos:
                raise BadPayload(f"{url}: video {entry.key} listed twice")
            videos.add(entry.key)
            seen.append(entry)
        return seen

    def parse_item(self, item: object, where: str = "playlist item") -> Seen | None:
        """A playlist item as a like; None for a video without an owner (deleted, private)."""
        if not isinstance(item, dict):
            raise BadPayload(f"{where}: not an object")
        like_id = check(ITEM_ID_RE, item.get("id"), f"{where} id")
        snippet = _object(item, "snippet", where)
        resource = _object(snippet, "resourceId", where)
        video_id = check(VIDEO_ID_RE, resource.get("videoId"), f"{where} videoId")
        details = item.get("contentDetails")
        if isinstance(details, dict) and details.get("videoId", video_id) != video_id:
            raise BadPayload(f"{where}: two different video ids")
        liked_at = parse_datetime(snippet.get("publishedAt"), f"{where} publishedAt")
        owner = snippet.get("videoOwnerChannelId")
        if owner is None:
            return None
        channel_id = check(CHANNEL_ID_RE, owner, f"{where} videoOwnerChannelId")
        creator = channel_creator(channel_id, str(snippet.get("videoOwnerChannelTitle", "")))
        url = check_uri(f"https://www.youtube.com/watch?v={video_id}", f"{where} url")
        title = plain_title(snippet.get("title"))
        like = Like(like_id, video_id, url, creator, title, liked_at)
        return Seen(like, video_id, int(liked_at.timestamp()))

    async def resolve_item(self, credentials: Credentials, item_id: str) -> Like:
        """A liked video by id, from the likes playlist (`videoId` filter: 1 unit)."""
        video_id = check(VIDEO_ID_RE, item_id, "video id")
        playlist = credentials.extra.get("likes_playlist", "") or "LL"
        params = {
            "part": "snippet,contentDetails",
            "playlistId": check(PLAYLIST_ID_RE, playlist, "likes playlist"),
            "videoId": video_id,
            "maxResults": "1",
        }
        fetched = await self._read(credentials, "playlistItems.list", "/playlistItems", params)
        items = fetched.json_object().get("items")
        if not isinstance(items, list) or len(items) != 1:
            raise BadPayload(f"{fetched.url}: video {video_id} is not among the likes")
        entry = self.parse_item(items[0], fetched.url)
        if entry is None or entry.key != video_id:
            raise BadPayload(f"{fetched.url}: video {video_id} has no owner to credit")
        return entry.like
