"""Amounts at the edges: decimal text in, integer minor units inside, JSON with a scale out."""

from __future__ import annotations

import re
from typing import Any

from server.services.errors import ValidationFailed
from server.settings import Settings

DECIMAL = re.compile(r"(\d{1,15})(?:\.(\d+))?")


def parse_amount(text: str, settings: Settings, *, field: str = "amount") -> int:
    """'10.00' → 1000 (for a scale of 2); rejects signs, too many decimals and zero."""
    match = DECIMAL.fullmatch(text.strip())
    if match is None:
        raise ValidationFailed(f"{text!r} is not an amount like 10.00", field=field)
    whole, fraction = match.group(1), match.group(2) or ""
    scale = settings.currency_scale
    if len(fraction) > scale:
        raise ValidationFailed(
            f"{settings.currency} has {scale} decimal places; {text!r} has more", field=field
        )
    value: int = int(whole) * 10**scale + int(fraction.ljust(scale, "0") or "0")
    if value <= 0:
        raise ValidationFailed("the amount must be more than zero", field=field)
    return value


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
    """Accept {"value": "450", "currency": "EUR", "scale": 2} or a decimal string "4.50"."""
    if isinstance(data, str):
        return parse_amount(data, settings, field=field)
    if not isinstance(data, dict):
        raise ValidationFailed(f"{field} must be an amount object or a decimal string", field=field)
    if data.get("currency", settings.currency) != settings.currency:
        raise ValidationFailed(
            f"this instance works in {settings.currency}, not {data.get('currency')!r}",
            field=field,
        )
    if data.get("scale", settings.currency_scale) != settings.currency_scale:
        raise ValidationFailed(f"the scale must be {settings.currency_scale}", field=field)
    value = data.get("value")
    if not isinstance(value, str) or not value.isdigit() or len(value) > 15:
        raise ValidationFailed(f"{field}.value must be a string of digits", field=field)
    if int(value) <= 0:
        raise ValidationFailed("the amount must be more than zero", field=field)
    return int(value)
