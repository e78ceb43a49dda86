"""The instance as Mastodon apps read it (https://docs.joinmastodon.org/entities/Instance/
and V1_Instance/), and the small entities apps read at start-up: preferences, markers, the
notification policy. The domain hands an `InstanceView` over; nothing here reads the
database."""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from server.models import Account, Marker
from server.render.mastodon import iso_datetime, render_account
from server.settings import Settings

MASTODON_VERSION = "4.3.0"
THUMBNAIL = "/static/header.png"
LANGUAGES = ["en"]
URL_RESERVED_CHARACTERS = 23  # what a link counts towards the limit, as Mastodon counts it


@functools.cache
def software_version() -> str:
    """`4.3.0 (compatible; Likewise X.Y.Z)`: apps read the leading Mastodon version for
    what they may call, and the parenthesis for the server's own name."""
    try:
        own = metadata.version("likewise")
    except metadata.PackageNotFoundError:
        own = "0.0.0"
    return f"{MASTODON_VERSION} (compatible; Likewise {own})"


@dataclass(frozen=True)
class Limits:
    max_characters: int
    max_media_attachments: int
    supported_mime_types: tuple[str, ...]
    image_size_limit: int
    image_matrix_limit: int
    description_limit: int


@dataclass(frozen=True)
class InstanceView:
    """What the instance endpoints tell: counts read from the database, the admin to contact,
    and what the admin configured."""

    user_count: int
    status_count: int
    domain_count: int
    active_month: int
    contact: Account | None
    contact_email: str
    description: str
    rules: tuple[str, ...]
    limits: Limits


def streaming_url(settings: Settings) -> str:
    return f"{'wss' if settings.scheme == 'https' else 'ws'}://{settings.domain}"


def _media(limits: Limits, *, v2: bool) -> dict[str, Any]:
    media: dict[str, Any] = {
        "supported_mime_types": list(limits.supported_mime_types),
        "image_size_limit": limits.image_size_limit,
        "image_matrix_limit": limits.image_matrix_limit,
        "video_size_limit": 0,  # no video uploads
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
    }
    if v2:
        media["description_limit"] = limits.description_limit
    return media


def _configuration(limits: Limits, *, v2: bool) -> dict[str, Any]:
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
        "statuses": {
            "max_characters": limits.max_characters,
            "max_media_attachments": limits.max_media_attachments,
            "characters_reserved_per_url": URL_RESERVED_CHARACTERS,
        },
        "media_attachments": _media(limits, v2=v2),
        "polls": {
            "max_options": 4,
            "max_characters_per_option": 50,
            "min_expiration": 300,
            "max_expiration": 2_629_746,
        },
    }


# The date a default text (one the admin has not written) carries in the API.
DEFAULT_TEXT_DATE = datetime(2026, 12, 7, tzinfo=UTC)


def text_html(paragraphs: Sequence[Sequence[str]]) -> str:
    """The admin's plain text as HTML: escaped, a <p> a paragraph, its lines joined by <br>."""
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>" for lines in paragraphs
    )


def render_privacy_policy(
    paragraphs: Sequence[Sequence[str]], updated_at: datetime | None
) -> dict[str, Any]:
    """Mastodon's PrivacyPolicy: when it last changed and its HTML."""
    return {
        "updated_at": iso_datetime(updated_at or DEFAULT_TEXT_DATE),
        "content": text_html(paragraphs),
    }


def render_terms_of_service(
    paragraphs: Sequence[Sequence[str]], updated_at: datetime
) -> dict[str, Any]:
    """Mastodon's TermsOfService (4.4): the admin's terms, in force since they were saved."""
    return {
        "effective_date": updated_at.date().isoformat(),
        "effective": True,
        "content": text_html(paragraphs),
        "succeeded_by": None,
    }


def render_rules(rules: Sequence[str]) -> list[dict[str, str]]:
    return [{"id": str(number), "text": text, "hint": ""} for number, text in enumerate(rules, 1)]


def _contact(settings: Settings, view: InstanceView) -> dict[str, Any] | None:
    return render_account(settings, view.contact) if view.contact is not None else None


def _description(settings: Settings, view: InstanceView) -> str:
    return view.description or f"{settings.name}: likes that become microdonations."


def render_instance_v2(settings: Settings, view: InstanceView) -> dict[str, Any]:
    configuration = _configuration(view.limits, v2=True)
    configuration["urls"] = {
        "streaming": streaming_url(settings),
        "status": None,
        "about": f"{settings.base_url}/about",
        "privacy_policy": f"{settings.base_url}/privacy",  # the admin writes both pages
        "terms_of_service": f"{settings.base_url}/terms",
    }
    configuration["vapid"] = {"public_key": ""}
    configuration["translation"] = {"enabled": False}
    return {
        "domain": settings.domain,
        "title": settings.name,
        "version": software_version(),
        "source_url": f"{settings.base_url}/about",
        "description": _description(settings, view),
        "usage": {"users": {"active_month": view.active_month}},
        "thumbnail": {"url": settings.base_url + THUMBNAIL},  # as Mastodon with no upload
        "icon": [],
        "languages": LANGUAGES,
        "configuration": configuration,
        "registrations": {
            "enabled": settings.registrations,
            "approval_required": False,
            "message": None,
            "url": None,
        },
        "api_versions": {"mastodon": 2},
        "contact": {"email": view.contact_email, "account": _contact(settings, view)},
        "rules": render_rules(view.rules),
    }


def render_instance_v1(settings: Settings, view: InstanceView) -> dict[str, Any]:
    return {
        "uri": settings.domain,  # a bare domain, as Mastodon gives it
        "title": settings.name,
        "short_description": _description(settings, view),
        "description": _description(settings, view),
        "email": view.contact_email,
        "version": software_version(),
        "urls": {"streaming_api": streaming_url(settings)},
        "stats": {
            "user_count": view.user_count,
            "status_count": view.status_count,
            "domain_count": view.domain_count,
        },
        "thumbnail": settings.base_url + THUMBNAIL,
        "languages": LANGUAGES,
        "registrations": settings.registrations,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": _configuration(view.limits, v2=False),
        "contact_account": _contact(settings, view),
        "rules": render_rules(view.rules),
        "max_toot_chars": view.limits.max_characters,
    }


@dataclass(frozen=True)
class WeekActivity:
    week: datetime  # the week's first moment, Monday 00:00 UTC
    statuses: int
    logins: int
    registrations: int


def render_activity(weeks: Sequence[WeekActivity]) -> list[dict[str, str]]:
    return [
        {
            "week": str(int(week.week.timestamp())),
            "statuses": str(week.statuses),
            "logins": str(week.logins),
            "registrations": str(week.registrations),
        }
        for week in weeks
    ]


def render_extended_description(description: str) -> dict[str, Any]:
    content = f"<p>{html.escape(description)}</p>" if description else ""
    return {"updated_at": None, "content": content}


def render_markers(markers: Sequence[Marker]) -> dict[str, Any]:
    return {
        marker.timeline: {
            "last_read_id": marker.last_read_id,
            "version": marker.version,
            "updated_at": iso_datetime(marker.updated_at),
        }
        for marker in markers
    }


PREFERENCES: dict[str, Any] = {
    "posting:default:visibility": "public",
    "posting:default:sensitive": False,
    "posting:default:language": None,
    "reading:expand:media": "default",
    "reading:expand:spoilers": False,
    "reading:autoplay:gifs": False,
}

_NO_PENDING = {"pending_requests_count": 0, "pending_notifications_count": 0}


def render_notification_policy(*, v2: bool) -> dict[str, Any]:
    """Every notification is accepted: the instance filters none (Mastodon's defaults)."""
    if v2:
        return {
            "for_not_following": "accept",
            "for_not_followers": "accept",
            "for_new_accounts": "accept",
            "for_private_mentions": "accept",
            "for_limited_accounts": "accept",
            "summary": dict(_NO_PENDING),
        }
    return {
        "filter_not_following": False,
        "filter_not_followers": False,
        "filter_new_accounts": False,
        "filter_private_mentions": False,
        "summary": dict(_NO_PENDING),
    }
