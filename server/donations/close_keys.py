"""The idempotency keys of the close's transfers: derived from period, donor and click, so
a close run again posts nothing twice, and its self-checks find a donor's transfers again."""

from __future__ import annotations


def donor_prefix(period: str, donor: int) -> str:
    """The start of every key of a donor's transfers in a period. Zero-padded: keys grow in
    insertion order, so their index is appended to, not split."""
    return f"close:{period}:{donor:010d}"


def reserve_key(period: str, donor: int) -> str:
    """The key of the transfer of a donor's budget from the wallet to its reserve."""
    return f"{donor_prefix(period, donor)}:reserve"
