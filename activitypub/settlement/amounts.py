"""Money in signed JSON: integer minor units written as a decimal string with currency and scale.

`{"value": "450", "currency": "EUR", "scale": 2}` is EUR 4.50. The value is a string
because JCS (RFC 8785) refuses integers beyond 2^53-1; one spelling per number (no
leading zeros, `+`, exponent, whitespace or `-0`) so equal amounts sign equally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from activitypub.errors import SettlementError

MAX_DIGITS = 30
MAX_SCALE = 4
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
VALUE_PATTERN = re.compile(r"-?(?:0|[1-9][0-9]*)")
AMOUNT_KEYS = frozenset({"value", "currency", "scale"})


class Sign(Enum):
    """Which values an amount field admits; lines and totals are `POSITIVE`."""

    POSITIVE = "positive"
    NON_NEGATIVE = "non_negative"
    ANY = "any"


@dataclass(frozen=True)
class Amount:
    value: int
    currency: str
    scale: int

    def __post_init__(self) -> None:
        if type(self.value) is not int or len(str(abs(self.value))) > MAX_DIGITS:
            raise SettlementError(f"amount value must be an integer of at most {MAX_DIGITS} digits")
        if not isinstance(self.currency, str) or not CURRENCY_PATTERN.fullmatch(self.currency):
            raise SettlementError("amount currency must be three capital letters (ISO 4217)")
        if type(self.scale) is not int or not 0 <= self.scale <= MAX_SCALE:
            raise SettlementError(f"amount scale must be an integer from 0 to {MAX_SCALE}")

    def to_json(self) -> dict[str, object]:
        return {"value": str(self.value), "currency": self.currency, "scale": self.scale}

    def same_unit(self, other: Amount) -> bool:
        return self.currency == other.currency and self.scale == other.scale

    def zero(self) -> Amount:
        return Amount(0, self.currency, self.scale)

    def minus(self, other: Amount) -> Amount:
        if not self.same_unit(other):
            raise SettlementError("cannot subtract amounts of different currency or scale")
        return Amount(self.value - other.value, self.currency, self.scale)


def check_sign(amount: Amount, sign: Sign, name: str) -> Amount:
    if sign is Sign.POSITIVE and amount.value <= 0:
        raise SettlementError(f"{name} must be positive")
    if sign is Sign.NON_NEGATIVE and amount.value < 0:
        raise SettlementError(f"{name} must not be negative")
    return amount


def _parse_value(value: object, name: str) -> int:
    if not isinstance(value, str):
        raise SettlementError(f"{name}.value must be a string of digits")
    if len(value) > MAX_DIGITS + 1 or not value.isascii() or not VALUE_PATTERN.fullmatch(value):
        raise SettlementError(f"{name}.value is not a canonical decimal integer: {value[:40]!r}")
    if value == "-0" or len(value.lstrip("-")) > MAX_DIGITS:
        raise SettlementError(f"{name}.value is not a canonical decimal integer: {value!r}")
    return int(value)


def parse_amount(data: object, name: str = "amount", sign: Sign = Sign.POSITIVE) -> Amount:
    """Parse `{"value": "450", "currency": "EUR", "scale": 2}` strictly.

    Only `sign` decides whether zero or a leading minus is admitted.
    """
    if not isinstance(data, Mapping):
        raise SettlementError(f"{name} must be an object with value, currency and scale")
    if set(data) != AMOUNT_KEYS:
        raise SettlementError(f"{name} must have exactly the keys value, currency and scale")
    value = _parse_value(data["value"], name)
    currency = data["currency"]
    if not isinstance(currency, str) or not CURRENCY_PATTERN.fullmatch(currency):
        raise SettlementError(f"{name}.currency must be three capital letters (ISO 4217)")
    scale = data["scale"]
    if type(scale) is not int or not 0 <= scale <= MAX_SCALE:
        raise SettlementError(f"{name}.scale must be an integer from 0 to {MAX_SCALE}")
    return check_sign(Amount(value, currency, scale), sign, name)


def sum_amounts(amounts: Iterable[Amount], unit: Amount, name: str) -> Amount:
    """The sum in `unit`'s currency and scale; any other unit is refused."""
    total = 0
    for amount in amounts:
        if not amount.same_unit(unit):
            raise SettlementError(
                f"{name}: {amount.currency}/{amount.scale} differs from "
                f"{unit.currency}/{unit.scale}"
            )
        total += amount.value
    return Amount(total, unit.currency, unit.scale)
