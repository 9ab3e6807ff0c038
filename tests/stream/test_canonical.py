"""The outbox's canonical encoding equals the definition (evidence.core.encoding) byte for byte."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.core import canonical_bytes
from stream.canonical import fast_canonical_bytes

# The fast path must equal the definition on every value it accepts: any text (control
# characters, U+2028/2029, DEL, astral planes), integers of any size, keys of any text.
_any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
_wide_scalars = st.none() | st.booleans() | st.integers() | _any_text
_wide_values = st.recursive(
    _wide_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_any_text, inner, max_size=4)
    ),
    max_leaves=16,
)


@given(st.dictionaries(_any_text, _wide_values, max_size=8))
def test_fast_encoding_equals_the_definition(document: dict[str, Any]) -> None:
    assert fast_canonical_bytes(document) == canonical_bytes(document)


@given(st.integers(min_value=2**63 - 2, max_value=2**80) | st.integers(max_value=-(2**63) + 1))
def test_integers_beyond_64_bits_encode_as_defined(number: int) -> None:
    assert fast_canonical_bytes({"n": number}) == canonical_bytes({"n": number})
    assert json.loads(fast_canonical_bytes({"n": [number]})) == {"n": [number]}


def test_control_characters_and_separators_encode_as_defined() -> None:
    text = "".join(chr(c) for c in range(0x20)) + '"\\/\x7f\u2028\u2029\ufeff\U0001f600'
    assert fast_canonical_bytes({text: text}) == canonical_bytes({text: text})


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError):
        fast_canonical_bytes({"x": "\ud800"})


def test_non_string_keys_follow_the_definition() -> None:
    document: dict[Any, Any] = {"a": {1: "x", "b": 2}}
    with pytest.raises(TypeError):  # the definition refuses to sort mixed key types
        canonical_bytes(document)
    with pytest.raises(TypeError):
        fast_canonical_bytes(document)


@pytest.mark.parametrize("value", [{"x": 1.0}, {"x": [1, 2.5]}, {"x": {"y": ({"z": -0.0},)}}])
def test_floats_are_refused_at_any_depth(value: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="float"):
        fast_canonical_bytes(value)
