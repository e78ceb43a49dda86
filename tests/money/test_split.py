from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.money.split import equal_split, fee_of, largest_remainder

amounts = st.integers(min_value=0, max_value=10**12)


@given(amounts, st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=50))
def test_largest_remainder_sums_exactly_and_stays_within_a_unit(
    amount: int, weights: list[int]
) -> None:
    shares = largest_remainder(amount, weights)
    total = sum(weights)
    assert sum(shares) == amount
    for share, weight in zip(shares, weights, strict=True):
        assert share >= 0
        assert amount * weight // total <= share <= -(-amount * weight // total)


@given(amounts, st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=30))
def test_largest_remainder_is_deterministic_and_ties_go_to_the_earliest(
    amount: int, weights: list[int]
) -> None:
    assert largest_remainder(amount, weights) == largest_remainder(amount, list(weights))
    equal = largest_remainder(amount, [1] * len(weights))
    assert equal == sorted(equal, reverse=True)


@given(amounts, st.integers(min_value=1, max_value=500))
def test_equal_split_matches_the_weighted_split(amount: int, count: int) -> None:
    assert equal_split(amount, count) == largest_remainder(amount, [1] * count)


@given(amounts, st.integers(min_value=0, max_value=10_000))
def test_fee_never_exceeds_the_amount(amount: int, fee_bps: int) -> None:
    assert 0 <= fee_of(amount, fee_bps) <= amount


def test_three_cents_over_two_clicks_go_to_the_first_click() -> None:
    assert equal_split(3, 2) == [2, 1]
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
