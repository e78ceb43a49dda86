from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activitypub.errors import ProofError, SettlementError
from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from activitypub.proofs import canonicalize
from activitypub.settlement import (
    Amount,
    BatchOffer,
    SettlementLine,
    Sign,
    build_batch_offer,
    parse_amount,
    parse_batch_offer,
    sign_document,
    verify_document,
)

GOOD: list[tuple[object, Sign, Amount]] = [
    ({"value": "450", "currency": "EUR", "scale": 2}, Sign.POSITIVE, Amount(450, "EUR", 2)),
    ({"value": "1", "currency": "JPY", "scale": 0}, Sign.POSITIVE, Amount(1, "JPY", 0)),
    ({"value": "12345", "currency": "BHD", "scale": 4}, Sign.POSITIVE, Amount(12345, "BHD", 4)),
    ({"value": "0", "currency": "EUR", "scale": 2}, Sign.NON_NEGATIVE, Amount(0, "EUR", 2)),
    ({"value": "-75", "currency": "EUR", "scale": 2}, Sign.ANY, Amount(-75, "EUR", 2)),
    (
        {"value": "9" * 30, "currency": "EUR", "scale": 2},
        Sign.POSITIVE,
        Amount(10**30 - 1, "EUR", 2),
    ),
    (
        {"value": "-" + "9" * 30, "currency": "EUR", "scale": 2},
        Sign.ANY,
        Amount(-(10**30) + 1, "EUR", 2),
    ),
    (
        {"value": "100000000000000000000", "currency": "EUR", "scale": 2},
        Sign.POSITIVE,
        Amount(10**20, "EUR", 2),
    ),
]


def amount(value: object, currency: object = "EUR", scale: object = 2) -> dict[str, object]:
    return {"value": value, "currency": currency, "scale": scale}


BAD: list[tuple[str, object, Sign]] = [
    ("integer value", amount(450), Sign.POSITIVE),
    ("float value", amount(4.5), Sign.POSITIVE),
    ("boolean value", amount(True), Sign.POSITIVE),
    ("null value", amount(None), Sign.POSITIVE),
    ("decimal point", amount("4.50"), Sign.POSITIVE),
    ("exponent", amount("4e2"), Sign.POSITIVE),
    ("upper exponent", amount("45E1"), Sign.POSITIVE),
    ("leading plus", amount("+450"), Sign.POSITIVE),
    ("leading space", amount(" 450"), Sign.POSITIVE),
    ("trailing space", amount("450 "), Sign.POSITIVE),
    ("trailing newline", amount("450\n"), Sign.POSITIVE),
    ("leading zero", amount("0450"), Sign.POSITIVE),
    ("negative zero", amount("-0"), Sign.ANY),
    ("empty", amount(""), Sign.POSITIVE),
    ("underscore", amount("1_000"), Sign.POSITIVE),
    ("hex", amount("0x10"), Sign.POSITIVE),
    ("arabic-indic digits", amount("\u0664\u0665\u0660"), Sign.POSITIVE),
    ("fullwidth digits", amount("\uff14\uff15"), Sign.POSITIVE),
    ("31 digits", amount("1" * 31), Sign.POSITIVE),
    ("huge string", amount("9" * 10_000), Sign.POSITIVE),
    ("double minus", amount("--5"), Sign.ANY),
    ("zero where positive", amount("0"), Sign.POSITIVE),
    ("negative where positive", amount("-5"), Sign.POSITIVE),
    ("negative where non-negative", amount("-5"), Sign.NON_NEGATIVE),
    ("lowercase currency", amount("450", "eur"), Sign.POSITIVE),
    ("four-letter currency", amount("450", "EURO"), Sign.POSITIVE),
    ("two-letter currency", amount("450", "EU"), Sign.POSITIVE),
    ("currency with newline", amount("450", "EUR\n"), Sign.POSITIVE),
    ("non-ascii currency", amount("450", "ÉUR"), Sign.POSITIVE),
    ("numeric currency", amount("450", 978), Sign.POSITIVE),
    ("scale 5", amount("450", "EUR", 5), Sign.POSITIVE),
    ("negative scale", amount("450", "EUR", -1), Sign.POSITIVE),
    ("string scale", amount("450", "EUR", "2"), Sign.POSITIVE),
    ("float scale", amount("450", "EUR", 2.0), Sign.POSITIVE),
    ("boolean scale", amount("450", "EUR", True), Sign.POSITIVE),
    ("extra key", {**amount("450"), "note": "x"}, Sign.POSITIVE),
    ("missing currency", {"value": "450", "scale": 2}, Sign.POSITIVE),
    ("not an object", "450 EUR", Sign.POSITIVE),
    ("list", ["450", "EUR", 2], Sign.POSITIVE),
    ("null", None, Sign.POSITIVE),
]


@pytest.mark.parametrize(("data", "sign", "expected"), GOOD)
def test_good_amounts_parse_and_write_back_identically(
    data: object, sign: Sign, expected: Amount
) -> None:
    parsed = parse_amount(data, sign=sign)

    assert parsed == expected
    assert parsed.to_json() == data


@pytest.mark.parametrize(("case", "data", "sign"), BAD, ids=[case for case, _, _ in BAD])
def test_bad_amounts_are_refused_naming_the_field(case: str, data: object, sign: Sign) -> None:
    with pytest.raises(SettlementError, match=r"line\.amount"):
        parse_amount(data, "line.amount", sign)


@pytest.mark.parametrize(
    ("value", "currency", "scale"),
    [(True, "EUR", 2), (10**31, "EUR", 2), (1, "eur", 2), (1, "EUR", 5), (1, "EUR", False)],
)
def test_amount_constructor_refuses_what_the_wire_would(
    value: int, currency: str, scale: int
) -> None:
    with pytest.raises(SettlementError):
        Amount(value, currency, scale)


def test_jcs_refuses_integers_beyond_2_53_minus_1() -> None:
    assert canonicalize({"value": 2**53 - 1}) == b'{"value":9007199254740991}'
    with pytest.raises(ProofError):
        canonicalize({"value": 2**53})
    with pytest.raises(ProofError):
        canonicalize({"value": 10**20})


def test_10_to_the_20_minor_units_sign_and_verify_as_a_decimal_string() -> None:
    # Given a batch line worth 10^20 cents, far beyond what JCS accepts as an integer
    actor = "https://a.example/actor"
    offer = BatchOffer(
        id="https://a.example/settlements/b.example/1",
        actor=actor,
        recipient="https://b.example/actor",
        published=datetime(2026, 11, 1, tzinfo=UTC),
        period="2026-10",
        sequence=1,
        currency="EUR",
        lines=(
            SettlementLine(
                "https://b.example/users/c", Amount(10**20, "EUR", 2), 1, ("urn:click:1",)
            ),
        ),
    )
    key = generate_ed25519_key()

    # When
    signed = sign_document(build_batch_offer(offer), key, f"{actor}#ed25519-key")

    # Then
    verify_document(signed, ed25519_public_to_multibase(key.public_key()), actor)
    assert parse_batch_offer(signed).total == Amount(10**20, "EUR", 2)
    assert b'"value":"100000000000000000000"' in canonicalize(signed)


def test_sums_beyond_30_digits_are_refused() -> None:
    big = Amount(10**30 - 1, "EUR", 2)
    with pytest.raises(SettlementError):
        big.minus(Amount(-1, "EUR", 2))


def test_subtracting_amounts_of_different_units_is_refused() -> None:
    with pytest.raises(SettlementError, match="different currency"):
        Amount(1, "EUR", 2).minus(Amount(1, "USD", 2))
