"""Delivery policy: what an inbox's answer means, and when to try again.

Mirrors Mastodon: 2xx is delivered; 4xx other than 401, 408 and 429 will never
succeed; everything else (5xx, 401, 408, 429, odd 1xx/3xx) is retried. The
schedule keeps Mastodon's shape, n⁴ + 15 + random(0.5·n⁴) seconds after the
n-th failure, scaled so that all `MAX_ATTEMPTS` retries span about one day
(Mastodon's unscaled schedule spans two to three days).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

MAX_ATTEMPTS = 16
SCHEDULE_SCALE = 0.28
BASE_DELAY = 15.0
# A hostile or confused server must not park our queue for months.
MAX_RETRY_AFTER = 24 * 3600.0
RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 429})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class DeliveryOutcome:
    verdict: Verdict
    status: int
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from `Retry-After` (delta-seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def classify_response(status: int, headers: Mapping[str, str], now: datetime) -> DeliveryOutcome:
    if 200 <= status < 300:
        return DeliveryOutcome(Verdict.DELIVERED, status)
    if 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS:
        return DeliveryOutcome(Verdict.PERMANENT, status)
    retry_after = None
    if status in {429, 503}:
        lowered = {name.lower(): value for name, value in headers.items()}
        retry_after = parse_retry_after(lowered.get("retry-after"), now)
    return DeliveryOutcome(Verdict.RETRY, status, retry_after)


def next_retry_delay(attempt: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None: give up."""
    if attempt < 1 or attempt > MAX_ATTEMPTS:
        return None
    scaled = SCHEDULE_SCALE * attempt**4
    jitter = (rng or random).random() * 0.5 * scaled
    return scaled + BASE_DELAY + jitter
