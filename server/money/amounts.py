"""Amounts at the edges: decimal text in, integer minor units inside, JSON with a scale out.

One rule for every amount a person or a client types or sends: ASCII digits only (never
the superscript, Arabic-Indic or fullwidth digits that Python's `isdigit()` and a regular
expression's `\\d` accept), the instance's currency and scale exactly, more than zero and at
most `AMOUNT_CEILING` minor units.
"""

from __future__ import annotations

import re
from typing import Any

from server.domain_errors import ValidationFailed
from server.models.ledger import AMOUNT_CEILING
from server.settings import Settings

__all__ = [
    "AMOUNT_CEILING",
    "AMOUNT_KEYS",
    "amount_from_json",
    "amount_json",
    "format_amount",
    "format_money",
    "parse_amount",
    "parse_id",
]

CEILING_DIGITS = len(str(AMOUNT_CEILING))
# [0-9], never \d: \d also matches the digits of every other script.
DECIMAL = re.compile(rf"([0-9]{{1,{CEILING_DIGITS}}})(?:\.([0-9]{{1,{CEILING_DIGITS}}}))?")
MINOR_UNITS = re.compile(rf"[0-9]{{1,{CEILING_DIGITS}}}")
ID_DIGITS = re.compile(r"[0-9]{1,19}")
MAX_ID = 2**63 - 1
AMOUNT_KEYS = frozenset({"value", "currency", "scale"})


def _within_ceiling(value: int, settings: Settings, field: str) -> int:
    if value <= 0:
        raise ValidationFailed("the amount must be more than zero", field=field)
    if value > AMOUNT_CEILING:
        raise ValidationFailed(
            f"an amount is at most {format_money(AMOUNT_CEILING, settings)}", field=field
        )
    return value


def parse_amount(text: str, settings: Settings, *, field: str = "amount") -> int:
    """'10.00' → 1000 (for a scale of 2); rejects signs, too many decimals, zero, amounts
    beyond the ceiling and any digit that is not ASCII."""
    match = DECIMAL.fullmatch(text.strip())
    if match is None:
        raise ValidationFailed(
            f"{text[:40]!r} is not an amount like 10.00 (digits 0-9, at most "
            f"{format_amount(AMOUNT_CEILING, settings)})",
            field=field,
        )
    whole, fraction = match.group(1), match.group(2) or ""
    scale = settings.currency_scale
    if len(fraction) > scale:
        raise ValidationFailed(
            f"{settings.currency} has {scale} decimal places; {text!r} has more", field=field
        )
    value = int(whole) * 10**scale + int(fraction.ljust(scale, "0") or "0")
    return _within_ceiling(value, settings, field)


def format_amount(value: int, settings: Settings) -> str:
    scale = settings.currency_scale
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**scale)
    return f"{sign}{whole}.{fraction:0{scale}d}" if scale else f"{sign}{whole}"


def format_money(value: int, settings: Settings) -> str:
    """An amount as people read it: "12.50 EUR"."""
    return f"{format_amount(value, settings)} {settings.currency}"


def amount_json(value: int, settings: Settings) -> dict[str, Any]:
    return {"value": str(value), "currency": settings.currency, "scale": settings.currency_scale}


def amount_from_json(data: object, settings: Settings, *, field: str = "amount") -> int:
    """Accept exactly {"value": "450", "currency": "EUR", "scale": 2} or a decimal string
    "4.50"; another currency or scale, a missing or unknown key is refused."""
    if isinstance(data, str):
        return parse_amount(data, settings, field=field)
    if not isinstance(data, dict):
        raise ValidationFailed(f"{field} must be an amount object or a decimal string", field=field)
    if set(data) != AMOUNT_KEYS:
        raise ValidationFailed(
            f"{field} must have exactly the keys value, currency and scale", field=field
        )
    currency, scale = data["currency"], data["scale"]
    if currency != settings.currency:
        raise ValidationFailed(
            f"this instance works in {settings.currency}, not {str(currency)[:10]!r}",
            field=field,
        )
    if type(scale) is not int or scale != settings.currency_scale:
        raise ValidationFailed(
            f"{settings.currency} amounts have scale {settings.currency_scale}, "
            f"not {str(scale)[:10]!r}",
            field=field,
        )
    value = data["value"]
    if not isinstance(value, str) or not MINOR_UNITS.fullmatch(value):
        raise ValidationFailed(
            f"{field}.value must be a string of the digits 0-9 (minor units)", field=field
        )
    return _within_ceiling(int(value), settings, field)


def parse_id(text: object, *, field: str = "id") -> int:
    """A row id typed or sent as text: ASCII digits, from 1 to 2^63 - 1."""
    if not isinstance(text, str) or not ID_DIGITS.fullmatch(text) or not 0 < int(text) <= MAX_ID:
        raise ValidationFailed(f"{field} must be a whole number from 1 to {MAX_ID}", field=field)
    return int(text)
