"""What a streaming connection reads: new statuses of the home or public timelines and new
notifications, found by asking the database once a second from a cursor per connection.

Polling keeps streaming apart from the code that writes statuses and notifications (no
event bus to call from every writer), costs one indexed range read per stream a second,
and needs nothing shared between processes: a second `serve` streams the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.tokens import resolve_token, scope_allows, touch_token
from server.db.engine import Database
from server.db.paging import Page
from server.domain_errors import Forbidden, Kind, ServiceError, Unauthorized
from server.models import Account, Note
from server.render.statuses import StatusView
from server.settings import Settings
from server.social import notifications
from server.social.notes import with_applications
from server.social.notifications import NotificationView
from server.social.timelines import PublicFilter, Viewer, home, public, status_views, viewer_of

# Each stream and the scope it needs, as Mastodon's streaming server asks.
STREAMS = {
    "user": "read:statuses",
    "user:notification": "read:notifications",
    "public": "read:statuses",
    "public:local": "read:statuses",
    "public:remote": "read:statuses",
}
PUBLIC = {"public": PublicFilter(), "public:local": PublicFilter(local=True),
          "public:remote": PublicFilter(remote=True)}  # fmt: skip
BATCH = 20  # rows read a poll per stream; more wait for the next poll
RECHECK_POLLS = 30  # the token is looked at again this often (revoked: the stream ends)
WATCHED = 500  # statuses sent whose deletion is still reported
DELETE_POLLS = 3  # deletions of statuses sent are looked for every third poll


class UnknownStream(ServiceError):
    kind = Kind.bad_request
    code = "unknown_stream"


@dataclass(frozen=True)
class StreamEvent:
    stream: list[str]
    event: Literal["update", "notification", "delete"]
    status: StatusView | None = None
    notification: NotificationView | None = None
    deleted_id: int | None = None


@dataclass
class Stream:
    """One connection's subscriptions and cursors. `poll` returns what is new since."""

    db: Database
    settings: Settings
    token: str
    viewer: Viewer
    scopes: frozenset[str]
    note_cursor: int = 0  # the newest note when the stream opened, or since seen
    notification_cursor: int = 0
    cursors: dict[str, int] = field(default_factory=dict)  # each status stream's own
    sent: list[int] = field(default_factory=list)
    polls: int = 0
    settled: int = 0  # the newest note id the poll before this one saw

    def subscribe(self, name: str) -> None:
        needed = STREAMS.get(name)
        if needed is None:
            raise UnknownStream(f"unknown stream type {name!r}", field="stream")
        if not scope_allows(self.scopes, needed):
            raise Forbidden(f"the stream {name!r} needs the scope {needed!r}")
        if name.startswith("user") and self.viewer.account_id is None:
            raise Forbidden("the user streams need a user's token")
        self.cursors.setdefault(name, self.note_cursor)

    def unsubscribe(self, name: str) -> None:
        self.cursors.pop(name, None)

    @property
    def streams(self) -> list[str]:
        return sorted(self.cursors)

    async def poll(self) -> list[StreamEvent]:
        """What is new for the subscribed streams, oldest first; Unauthorized once the
        token is revoked."""
        self.polls += 1
        if self.polls % RECHECK_POLLS == 0:
            await _grant(self.db, self.token)
        events: list[StreamEvent] = []
        async with self.db.session() as session:
            newest_note, newest_notification = await self._newest(session)
            for name in self.streams:
                if name != "user:notification" and newest_note > self.cursors[name]:
                    events += await self._statuses(session, name)
            if newest_notification > self.notification_cursor and self._notified_streams():
                events += await self._notifications(session)
            else:  # what no stream here may carry is not sent on a later subscription
                self.notification_cursor = max(self.notification_cursor, newest_notification)
            if self.polls % DELETE_POLLS == 0:
                events += await self._deleted(session)
            self.settled = newest_note
        self.sent = (self.sent + [int(e.status.note.id or 0) for e in events if e.status])[
            -WATCHED:
        ]
        return events

    async def _newest(self, session: AsyncSession) -> tuple[int, int]:
        """The newest note's id, and the newest notification's of the stream's account:
        nothing above the cursors, nothing more to read (two index lookups)."""
        newest_note = (await session.exec(select(func.max(Note.id)))).one() or 0
        account_id = self.viewer.account_id
        newest = await notifications.newest_id(session, account_id) if account_id else 0
        return int(newest_note), newest

    async def _statuses(self, session: AsyncSession, name: str) -> list[StreamEvent]:
        page = Page(limit=BATCH, min_id=self.cursors[name])
        if name == "user":
            notes = await home(session, self.viewer, page)
        else:
            notes = await public(session, PUBLIC[name], page)
        if len(notes) < BATCH:
            # Read to the end: what is not in this stream up to the newest note the poll
            # before saw is skipped from now on (a poll's grace for transactions that
            # commit out of id order).
            self.cursors[name] = max(self.cursors[name], self.settled)
        if not notes:
            return []
        self.cursors[name] = max(self.cursors[name], *(int(note.id or 0) for note in notes))
        self.note_cursor = max(self.note_cursor, self.cursors[name])
        views = await status_views(session, self.settings, notes[::-1], self.viewer)
        views = await with_applications(session, views, self.viewer.account_id)
        return [StreamEvent([name], "update", status=view) for view in views]

    def _notified_streams(self) -> list[str]:
        """The subscribed streams that carry notifications: `user` only for a token that
        may read them too (it needs just `read:statuses` for its updates)."""
        readable = scope_allows(self.scopes, STREAMS["user:notification"])
        return [
            name
            for name in ("user", "user:notification")
            if name in self.cursors and (readable or name != "user")
        ]

    async def _notifications(self, session: AsyncSession) -> list[StreamEvent]:
        wanted = self._notified_streams()
        account_id = self.viewer.account_id
        if not wanted or account_id is None:
            return []
        found = await notifications.since(
            session, self.settings, account_id, self.notification_cursor, BATCH
        )
        if found:
            self.notification_cursor = int(found[-1].notification.id or 0)
        return [StreamEvent(wanted[:1], "notification", notification=view) for view in found]

    async def _deleted(self, session: AsyncSession) -> list[StreamEvent]:
        if not self.sent:
            return []
        query = select(Note.id).where(
            col(Note.id).in_(self.sent), col(Note.deleted_at).is_not(None)
        )
        gone = {int(note_id or 0) for note_id in (await session.exec(query)).all()}
        if not gone:
            return []
        self.sent = [note_id for note_id in self.sent if note_id not in gone]
        streams = [name for name in self.streams if name != "user:notification"]
        return [StreamEvent(streams, "delete", deleted_id=note_id) for note_id in sorted(gone)]


async def _grant(db: Database, token: str) -> tuple[int | None, frozenset[str]]:
    async with db.transaction() as session:
        grant = await resolve_token(session, token) if token else None
        if grant is not None:
            await touch_token(session, grant)
        account = (
            await session.get(Account, grant.account_id) if grant and grant.account_id else None
        )
    if grant is None or (grant.account_id is not None and account is None):
        raise Unauthorized("the access token is invalid or revoked")
    if account is not None and account.suspended_at is not None:
        raise Unauthorized("the access token is invalid or revoked")
    return grant.account_id, grant.scopes


async def open_stream(db: Database, settings: Settings, token: str, streams: list[str]) -> Stream:
    """A stream for the token's account, subscribed to `streams`, reading from now on."""
    account_id, scopes = await _grant(db, token)
    async with db.session() as session:
        viewer = await viewer_of(session, account_id)
        newest_note = (await session.exec(select(func.max(Note.id)))).one() or 0
        newest = await notifications.newest_id(session, account_id) if account_id else 0
    stream = Stream(db, settings, token, viewer, scopes, int(newest_note), newest)
    for name in streams:
        stream.subscribe(name)
    return stream
