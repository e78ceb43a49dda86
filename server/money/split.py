"""Integer splits: the fee, and largest-remainder shares that always sum to the amount."""

from __future__ import annotations

from collections.abc import Sequence

from server.domain_errors import ValidationFailed


def fee_of(amount: int, fee_bps: int) -> int:
    """The instance fee on an amount, rounded down (the donor's favour)."""
    return amount * fee_bps // 10_000


def largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` in proportion to `weights`; each share is the floor or the ceiling
    of its quota, and ties in the remainder go to the earliest position."""
    total = sum(weights)
    if amount < 0 or any(w < 0 for w in weights) or (amount and total <= 0):
        raise ValidationFailed("a split needs a non-negative amount and positive weights")
    if not weights:
        return []
    if total == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    rest = amount - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for index in by_remainder[:rest]:
        shares[index] += 1
    return shares


def equal_split(amount: int, count: int) -> list[int]:
    """`largest_remainder(amount, [1] * count)` without the sort: the first clicks (by id)
    get the extra minor units."""
    if amount < 0 or count < 0 or (amount and count == 0):
        raise ValidationFailed("an equal split needs a non-negative amount and some parts")
    if count == 0:
        return []
    quotient, rest = divmod(amount, count)
    return [quotient + 1] * rest + [quotient] * (count - rest)
