from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from activitypub.delivery import (
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER,
    Verdict,
    classify_response,
    next_retry_delay,
)
from activitypub.signatures import http_date

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (202, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (301, Verdict.RETRY),
        (400, Verdict.PERMANENT),
        (401, Verdict.RETRY),
        (403, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (408, Verdict.RETRY),
        (410, Verdict.PERMANENT),
        (422, Verdict.PERMANENT),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
    ],
)
def test_classification(status: int, verdict: Verdict) -> None:
    assert classify_response(status, {}, NOW).verdict == verdict


def test_retry_after_seconds() -> None:
    assert classify_response(429, {"Retry-After": "120"}, NOW).retry_after == 120


def test_retry_after_http_date() -> None:
    later = http_date(NOW + timedelta(minutes=5))
    assert classify_response(503, {"retry-after": later}, NOW).retry_after == 300


@pytest.mark.parametrize(
    ("value", "expected"),
    [("garbage", None), ("99999999999", MAX_RETRY_AFTER), (http_date(NOW - timedelta(1)), 0)],
)
def test_retry_after_odd_values(value: str, expected: float | None) -> None:
    assert classify_response(429, {"Retry-After": value}, NOW).retry_after == expected


class Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_schedule_grows_and_ends() -> None:
    delays = [next_retry_delay(n, Fixed(0.0)) for n in range(1, MAX_ATTEMPTS + 1)]
    values = [d for d in delays if d is not None]

    assert len(values) == MAX_ATTEMPTS
    assert values == sorted(values)
    assert 15 < values[0] < 16
    assert 15 < (next_retry_delay(1) or 0) < 16
    assert next_retry_delay(MAX_ATTEMPTS + 1) is None
    assert next_retry_delay(0) is None


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_total_backoff_is_about_a_day(jitter: float) -> None:
    total = sum(next_retry_delay(n, Fixed(jitter)) or 0 for n in range(1, MAX_ATTEMPTS + 1))

    assert timedelta(hours=18) < timedelta(seconds=total) < timedelta(hours=30)
