"""Mastodon Notification entities (https://docs.joinmastodon.org/entities/Notification/)
and the grouped notifications of API v2 (GroupedNotificationsResults)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from server.models import Account, Actor, Notification
from server.render.mastodon import iso_datetime, render_account
from server.render.statuses import StatusView, render_remote_account, render_status
from server.settings import Settings

# Types a v2 listing folds into one group per status (or one for every follow).
GROUPED_TYPES = frozenset({"favourite", "reblog", "follow"})


class NotificationLike(Protocol):
    @property
    def notification(self) -> Notification: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def account(self) -> Account | None: ...
    @property
    def status(self) -> StatusView | None: ...
    @property
    def data(self) -> dict[str, Any]: ...


def account_ref(view: NotificationLike) -> str:
    return str(view.account.id) if view.account is not None else f"r{view.actor.id}"


def render_from(settings: Settings, view: NotificationLike) -> dict[str, Any]:
    if view.account is not None:
        return render_account(settings, view.account)
    return render_remote_account(settings, view.actor)


def group_key(notification: Notification) -> str:
    if notification.type in GROUPED_TYPES:
        target = notification.note_id if notification.note_id is not None else ""
        return f"{notification.type}-{target}"
    return f"ungrouped-{notification.id}"


def render_notification(settings: Settings, view: NotificationLike) -> dict[str, Any]:
    row = view.notification
    data: dict[str, Any] = {
        "id": str(row.id),
        "type": row.type,
        "created_at": iso_datetime(row.created_at),
        "group_key": group_key(row),
        "account": render_from(settings, view),
    }
    if view.status is not None:
        data["status"] = render_status(settings, view.status)
    if view.data:
        data["likewise"] = view.data
    return data


@dataclass
class _Group:
    key: str
    first: NotificationLike
    last: NotificationLike
    count: int
    accounts: list[str]


def _group_entity(group: _Group) -> dict[str, Any]:
    newest = group.first.notification
    entity: dict[str, Any] = {
        "group_key": group.key,
        "notifications_count": group.count,
        "type": newest.type,
        "most_recent_notification_id": str(newest.id),
        "page_max_id": str(newest.id),
        "page_min_id": str(group.last.notification.id),
        "latest_page_notification_at": iso_datetime(newest.created_at),
        "sample_account_ids": group.accounts[:8],
        "status_id": str(newest.note_id) if newest.note_id is not None else None,
    }
    if group.first.data:
        entity["likewise"] = group.first.data
    return entity


def render_grouped(settings: Settings, views: Sequence[NotificationLike]) -> dict[str, Any]:
    """One page of notifications (newest first) folded into groups, with the accounts and
    statuses they name given once each."""
    groups: dict[str, _Group] = {}
    accounts: dict[str, dict[str, Any]] = {}
    statuses: dict[str, dict[str, Any]] = {}
    for view in views:
        key = group_key(view.notification)
        ref = account_ref(view)
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(key, view, view, 1, [ref])
        else:
            group.last, group.count = view, group.count + 1
            if ref not in group.accounts:
                group.accounts.append(ref)
        accounts.setdefault(ref, render_from(settings, view))
        if view.status is not None:
            statuses.setdefault(str(view.status.note.id), render_status(settings, view.status))
    return {
        "accounts": list(accounts.values()),
        "statuses": list(statuses.values()),
        "notification_groups": [_group_entity(group) for group in groups.values()],
    }
