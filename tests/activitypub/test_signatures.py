from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from activitypub.errors import SignatureError, SignatureFailure
from activitypub.keys import RsaKeyPair, generate_rsa_key_pair, load_private_key
from activitypub.signatures import (
    QUOTED_PARAMS,
    _parse_params,
    _split_params,
    _split_params_slowly,
    digest_header,
    http_date,
    parse_signature_header,
    sign_request,
    verify_request,
)
from tests.support.payloads import load_json

NOW = datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC)
INBOX = "https://likewise.example/users/alice/inbox"
KEY_ID = "https://remote.example/users/bob#main-key"
BODY = b'{"type":"Like","id":"https://remote.example/users/bob#likes/1"}'

Headers = dict[str, str]


def signed_post(keys: RsaKeyPair, body: bytes = BODY, now: datetime = NOW) -> Headers:
    return sign_request("POST", INBOX, {}, body, KEY_ID, keys.private_pem, now=now)


def signed_get(keys: RsaKeyPair, url: str = "https://likewise.example/users/alice") -> Headers:
    return sign_request(
        "GET", url, {"Accept": "application/activity+json"}, None, KEY_ID, keys.private_pem, now=NOW
    )


def with_signature(headers: Headers, old: str, new: str) -> Headers:
    return {**headers, "Signature": headers["Signature"].replace(old, new)}


def rsa_sign(keys: RsaKeyPair, lines: list[str]) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    raw = load_private_key(keys.private_pem).sign(
        "\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(raw).decode()


def test_post_round_trip(rsa_keys: RsaKeyPair) -> None:
    headers = signed_post(rsa_keys)

    result = verify_request(
        "POST", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem, now=NOW
    )

    assert result.key_id == KEY_ID
    assert result.signed_headers == ("(request-target)", "host", "date", "digest")
    assert result.signed_at == NOW
    assert headers["Host"] == "likewise.example"
    assert headers["Digest"] == digest_header(BODY)
    assert headers["Date"] == "Tue, 03 Nov 2026 12:00:00 GMT"


def test_get_round_trip_with_query_and_port(rsa_keys: RsaKeyPair) -> None:
    headers = signed_get(rsa_keys, "http://127.0.0.1:8001/users/alice?page=2")

    result = verify_request(
        "GET", "/users/alice?page=2", headers, None, rsa_keys.public_pem, now=NOW
    )

    assert headers["Host"] == "127.0.0.1:8001"
    assert "Digest" not in headers
    assert result.signed_headers == ("(request-target)", "host", "date")


def test_sign_request_replaces_existing_headers_case_insensitively(rsa_keys: RsaKeyPair) -> None:
    headers = sign_request(
        "POST",
        INBOX,
        {"host": "x", "date": "y", "X-Other": "kept"},
        BODY,
        KEY_ID,
        rsa_keys.private_pem,
        now=NOW,
    )

    assert sorted(headers) == ["Date", "Digest", "Host", "Signature", "X-Other"]


def test_mastodon_shaped_vector_signed_with_openssl(rsa_keys: RsaKeyPair) -> None:
    vector = load_json("ap_mastodon_signed_like.json")

    result = verify_request(
        vector["method"],
        vector["path"],
        vector["headers"],
        vector["body"].encode(),
        rsa_keys.public_pem,
        now=datetime.fromisoformat(vector["now"]),
    )

    assert result.key_id == "https://mastodon.example/users/bob#main-key"
    assert "content-type" in result.signed_headers


def test_lowercase_header_names_are_accepted(rsa_keys: RsaKeyPair) -> None:
    headers = {name.lower(): value for name, value in signed_post(rsa_keys).items()}

    verify_request("post", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem, now=NOW)


def test_hs2019_and_lowercase_digest_prefix_accepted(rsa_keys: RsaKeyPair) -> None:
    headers = signed_post(rsa_keys)
    headers["Digest"] = "sha-256=" + headers["Digest"].removeprefix("SHA-256=")
    lines = [
        "(request-target): post /users/alice/inbox",
        "host: likewise.example",
        f"date: {headers['Date']}",
        f"digest: {headers['Digest']}",
    ]
    headers["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="hs2019",headers="(request-target) host date digest",'
        f'signature="{rsa_sign(rsa_keys, lines)}"'
    )

    result = verify_request(
        "POST", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem, now=NOW
    )

    assert result.algorithm == "hs2019"


def test_created_pseudo_header_with_hs2019(rsa_keys: RsaKeyPair) -> None:
    created = int(NOW.timestamp())
    digest = digest_header(BODY)
    lines = ["(request-target): post /inbox", f"(created): {created}", f"digest: {digest}"]
    headers = {
        "Digest": digest,
        "Signature": f'keyId="{KEY_ID}",algorithm="hs2019",created={created},'
        f'headers="(request-target) (created) digest",signature="{rsa_sign(rsa_keys, lines)}"',
    }

    result = verify_request("POST", "/inbox", headers, BODY, rsa_keys.public_pem, now=NOW)

    assert result.signed_at == NOW


def test_absent_algorithm_means_rsa(rsa_keys: RsaKeyPair) -> None:
    headers = with_signature(signed_post(rsa_keys), 'algorithm="rsa-sha256",', "")

    assert (
        verify_request(
            "POST", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem, now=NOW
        ).algorithm
        == "rsa-sha256"
    )


def test_parse_signature_header() -> None:
    params = parse_signature_header(
        'keyId="https://a.example/u#k", algorithm="hs2019", created=1700000000, '
        'headers="(request-target) Host date", signature="YWJj"'
    )

    assert params.key_id == "https://a.example/u#k"
    assert params.algorithm == "hs2019"
    assert params.headers == ("(request-target)", "host", "date")
    assert params.signature == "YWJj"
    assert params.created == 1700000000


@pytest.mark.parametrize(
    "value",
    [
        'keyId="a",signature="b',
        'keyId="a",keyId="b",signature="c"',
        "junk",
        'keyId="a",signature="b",created=x',
    ],
)
def test_parse_signature_header_refuses_malformed(value: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_signature_header(value)
    assert caught.value.reason == SignatureFailure.MALFORMED


def _split_outcome(split: Callable[[str], dict[str, str]], value: str) -> object:
    try:
        return split(value)
    except SignatureError as error:
        return error.reason


PIECES = ["keyId", "a", "B", "=", '"', ",", " ", "\t", "\n", "x", "1"]
PARAM_PIECES = st.sampled_from(PIECES)


@given(st.lists(PARAM_PIECES, max_size=16).map("".join))
def test_the_quoted_params_fast_path_reads_what_the_full_parser_reads(value: str) -> None:
    assert _split_outcome(_split_params, value) == _split_outcome(_split_params_slowly, value)


@given(st.from_regex(QUOTED_PARAMS, fullmatch=True))
def test_every_quoted_params_header_parses_the_same_both_ways(value: str) -> None:
    assert _split_outcome(_split_params, value) == _split_outcome(_split_params_slowly, value)


def _parse_outcome(parse: Callable[[str], object], value: str) -> object:
    try:
        return parse(value)
    except SignatureError as error:
        return error.reason


def _parse_fully(value: str) -> object:
    return _parse_params(_split_params_slowly(value))


SIGNATURE_NAMES = st.sampled_from(
    ["keyId", "signature", "Signature", "xsignature", "headers", "algorithm", "created", "a"]
)
SIGNATURE_VALUES = st.sampled_from(['"k"', '"c2ln"', '""', '"date digest"', "12", '"a,b"', '"x'])
SEPARATORS = st.sampled_from(["", ",", ", ", " ", "\t", ",,"])
SIGNATURE_PARAM = st.builds("{}{}={}".format, SEPARATORS, SIGNATURE_NAMES, SIGNATURE_VALUES)
SIGNATURE_PARAMS = st.lists(st.one_of(SIGNATURE_PARAM, st.sampled_from([" x", "="])), max_size=6)


@given(SIGNATURE_PARAMS.map("".join), SEPARATORS)
@example('keyId="k",signature="a",signature="b"', "")
@example('keyId="k",x,signature="b"', "")
@example('keyId="k" x signature="b"', " ")
@example('keyId="k",signature="b"x', "")
@example('keyId="k",signature=""', "")
@example('keyId="k",signature="b', "")
def test_a_header_parses_the_same_with_its_head_cached(params: str, tail: str) -> None:
    value = params + tail

    assert _parse_outcome(parse_signature_header, value) == _parse_outcome(_parse_fully, value)


@given(st.lists(st.sampled_from([*PIECES, 'signature="', "c2ln"]), max_size=16))
def test_any_header_parses_the_same_with_its_head_cached(pieces: list[str]) -> None:
    value = "".join(pieces)

    assert _parse_outcome(parse_signature_header, value) == _parse_outcome(_parse_fully, value)


Tamper = Callable[[Headers], Headers]

POST_TAMPERINGS: dict[str, tuple[Tamper, bytes, SignatureFailure]] = {
    "body changed": (lambda h: h, BODY + b" ", SignatureFailure.BAD_DIGEST),
    "digest changed": (
        lambda h: {**h, "Digest": digest_header(b"other")},
        BODY,
        SignatureFailure.BAD_DIGEST,
    ),
    "digest not sha-256": (
        lambda h: {**h, "Digest": "SHA-512=abc"},
        BODY,
        SignatureFailure.BAD_DIGEST,
    ),
    "digest header missing": (
        lambda h: {k: v for k, v in h.items() if k != "Digest"},
        BODY,
        SignatureFailure.MISSING_HEADER,
    ),
    "signature header missing": (
        lambda h: {k: v for k, v in h.items() if k != "Signature"},
        BODY,
        SignatureFailure.MISSING_HEADER,
    ),
    "date header missing": (
        lambda h: {k: v for k, v in h.items() if k != "Date"},
        BODY,
        SignatureFailure.MISSING_HEADER,
    ),
    "keyId missing": (
        lambda h: with_signature(h, f'keyId="{KEY_ID}",', ""),
        BODY,
        SignatureFailure.MISSING_HEADER,
    ),
    "date not signed": (
        lambda h: with_signature(h, "host date digest", "host digest"),
        BODY,
        SignatureFailure.INSUFFICIENT_HEADERS,
    ),
    "digest not signed": (
        lambda h: with_signature(h, "host date digest", "host date"),
        BODY,
        SignatureFailure.INSUFFICIENT_HEADERS,
    ),
    "unsupported algorithm": (
        lambda h: with_signature(h, "rsa-sha256", "hmac-sha256"),
        BODY,
        SignatureFailure.UNSUPPORTED_ALGORITHM,
    ),
    "signature not base64": (
        lambda h: with_signature(h, 'signature="', 'signature="!!'),
        BODY,
        SignatureFailure.MALFORMED,
    ),
    "signature altered": (
        lambda h: with_signature(h, 'signature="', 'signature="AAAA'),
        BODY,
        SignatureFailure.BAD_SIGNATURE,
    ),
    "host altered": (lambda h: {**h, "Host": "evil.example"}, BODY, SignatureFailure.BAD_SIGNATURE),
    "created with rsa-sha256": (
        lambda h: with_signature(h, "host date digest", "host (created) digest"),
        BODY,
        SignatureFailure.MALFORMED,
    ),
}


@pytest.mark.parametrize("name", sorted(POST_TAMPERINGS))
def test_tampered_post_is_refused(rsa_keys: RsaKeyPair, name: str) -> None:
    tamper, body, reason = POST_TAMPERINGS[name]
    headers = tamper(signed_post(rsa_keys))

    with pytest.raises(SignatureError) as caught:
        verify_request("POST", "/users/alice/inbox", headers, body, rsa_keys.public_pem, now=NOW)

    assert caught.value.reason == reason


def test_other_path_is_refused(rsa_keys: RsaKeyPair) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_request("POST", "/inbox", signed_post(rsa_keys), BODY, rsa_keys.public_pem, now=NOW)
    assert caught.value.reason == SignatureFailure.BAD_SIGNATURE


def test_wrong_key_is_refused(rsa_keys: RsaKeyPair) -> None:
    other = generate_rsa_key_pair()

    with pytest.raises(SignatureError) as caught:
        verify_request(
            "POST", "/users/alice/inbox", signed_post(rsa_keys), BODY, other.public_pem, now=NOW
        )

    assert caught.value.reason == SignatureFailure.BAD_SIGNATURE


def test_garbage_key_is_refused(rsa_keys: RsaKeyPair) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_request(
            "POST", "/users/alice/inbox", signed_post(rsa_keys), BODY, "not a key", now=NOW
        )
    assert caught.value.reason == SignatureFailure.INVALID_KEY


@pytest.mark.parametrize("offset", [timedelta(hours=-1, seconds=-1), timedelta(hours=1, seconds=1)])
def test_date_outside_window_is_refused(rsa_keys: RsaKeyPair, offset: timedelta) -> None:
    headers = signed_post(rsa_keys, now=NOW + offset)

    with pytest.raises(SignatureError) as caught:
        verify_request("POST", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem, now=NOW)

    assert caught.value.reason == SignatureFailure.EXPIRED


@pytest.mark.parametrize(
    ("pseudo", "moment", "reason"),
    [
        ("(created)", "999999999999", SignatureFailure.EXPIRED),
        ("(created)", "0", SignatureFailure.EXPIRED),
        ("(expires)", "0", SignatureFailure.EXPIRED),
        # Far ahead is not expired: the made-up signature is what fails.
        ("(expires)", "999999999999", SignatureFailure.BAD_SIGNATURE),
    ],
)
def test_created_or_expires_beyond_any_date_is_refused_not_an_error(
    rsa_keys: RsaKeyPair, pseudo: str, moment: str, reason: SignatureFailure
) -> None:
    now = str(int(NOW.timestamp()))
    created, expires = (moment, now) if pseudo == "(created)" else (now, moment)
    headers = {
        "Digest": digest_header(BODY),
        "Signature": f'keyId="{KEY_ID}",algorithm="hs2019",created={created},expires={expires},'
        f'headers="(request-target) (created) (expires) digest",signature="YWJj"',
    }

    with pytest.raises(SignatureError) as caught:
        verify_request("POST", "/inbox", headers, BODY, rsa_keys.public_pem, now=NOW)

    assert caught.value.reason == reason


@pytest.mark.parametrize("offset", [timedelta(minutes=-59), timedelta(minutes=59)])
def test_date_inside_window_is_accepted(rsa_keys: RsaKeyPair, offset: timedelta) -> None:
    headers = signed_post(rsa_keys, now=NOW + offset)

    verify_request("POST", "/users/alice/inbox", headers, BODY, rsa_keys.public_pem, now=NOW)


def test_get_without_signed_host_is_refused(rsa_keys: RsaKeyPair) -> None:
    headers = signed_get(rsa_keys)
    lines = ["(request-target): get /users/alice", f"date: {headers['Date']}"]
    headers["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="rsa-sha256",headers="(request-target) date",'
        f'signature="{rsa_sign(rsa_keys, lines)}"'
    )

    with pytest.raises(SignatureError) as caught:
        verify_request("GET", "/users/alice", headers, None, rsa_keys.public_pem, now=NOW)

    assert caught.value.reason == SignatureFailure.INSUFFICIENT_HEADERS


def test_get_with_host_header_missing_is_refused(rsa_keys: RsaKeyPair) -> None:
    headers = {k: v for k, v in signed_get(rsa_keys).items() if k != "Host"}

    with pytest.raises(SignatureError) as caught:
        verify_request("GET", "/users/alice", headers, None, rsa_keys.public_pem, now=NOW)

    assert caught.value.reason == SignatureFailure.MISSING_HEADER


def test_http_date_format() -> None:
    assert (
        http_date(datetime(2022, 6, 7, 20, 51, 35, tzinfo=UTC)) == "Tue, 07 Jun 2022 20:51:35 GMT"
    )
