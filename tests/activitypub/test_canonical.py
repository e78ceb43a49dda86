"""The fast path of `canonicalize` writes exactly what the full RFC 8785 algorithm writes."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub.errors import ProofError
from activitypub.proofs import SAFE_INTEGER, canonicalize

keys = st.one_of(st.text(max_size=8), st.text(alphabet=st.characters(max_codepoint=127)))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-SAFE_INTEGER, max_value=SAFE_INTEGER),
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=40,
)


@settings(max_examples=500)
@given(documents)
def test_fast_path_equals_the_full_algorithm(document: object) -> None:
    try:
        expected = rfc8785.dumps(document)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError:
        with pytest.raises(ProofError):
            canonicalize(document)
        return
    assert canonicalize(document) == expected


@pytest.mark.parametrize(
    "document",
    [
        {"a": SAFE_INTEGER + 1},
        {"text": "\ud800"},  # a lone surrogate
        {"x": float("nan")},
    ],
)
def test_what_jcs_cannot_represent_is_refused(document: object) -> None:
    with pytest.raises(ProofError):
        canonicalize(document)


def test_escapes_and_key_order() -> None:
    document = {"b": "\u0007\n\"\\é\u2028", "a": [1, True, None], "B": {}}
    assert canonicalize(document) == rfc8785.dumps(document)  # type: ignore[arg-type]
    assert canonicalize(document).startswith(b'{"B":{},"a":[1,true,null],"b":"\\u0007\\n')
