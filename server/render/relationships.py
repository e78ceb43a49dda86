"""Accounts as the client API lists them (local or remote, with their counts) and the
Relationship entity (https://docs.joinmastodon.org/entities/Relationship/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.models import Account, Actor
from server.render.mastodon import AccountCounts, render_account
from server.render.statuses import render_remote_account
from server.settings import Settings


@dataclass(frozen=True)
class AccountView:
    """An actor as an account: `local` is its Account when it lives here."""

    actor: Actor
    local: Account | None
    counts: AccountCounts = field(default_factory=AccountCounts)

    @property
    def id(self) -> str:
        if self.local is not None:
            return str(self.local.id)
        return f"r{self.actor.id}"


@dataclass(frozen=True)
class RelationshipView:
    id: str
    following: bool = False
    requested: bool = False
    followed_by: bool = False
    requested_by: bool = False
    blocking: bool = False
    blocked_by: bool = False
    muting: bool = False
    muting_notifications: bool = False
    domain_blocking: bool = False


def render_account_view(settings: Settings, view: AccountView) -> dict[str, Any]:
    if view.local is not None:
        return render_account(settings, view.local, counts=view.counts)
    data = render_remote_account(settings, view.actor)
    data["id"] = view.id
    data["followers_count"] = view.counts.followers
    data["following_count"] = view.counts.following
    data["statuses_count"] = view.counts.statuses
    last = view.counts.last_status_at
    data["last_status_at"] = last.strftime("%Y-%m-%d") if last else None
    return data


def render_relationship(view: RelationshipView) -> dict[str, Any]:
    return {
        "id": view.id,
        "following": view.following,
        "showing_reblogs": view.following,
        "notifying": False,
        "languages": None,
        "followed_by": view.followed_by,
        "blocking": view.blocking,
        "blocked_by": view.blocked_by,
        "muting": view.muting,
        "muting_notifications": view.muting_notifications,
        "requested": view.requested,
        "requested_by": view.requested_by,
        "domain_blocking": view.domain_blocking,
        "endorsed": False,
        "note": "",
    }
