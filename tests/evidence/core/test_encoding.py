"""canonical_bytes: equal values give identical bytes; no floats ever."""

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.core import AccessEvent, canonical_bytes, event_to_dict
from tests.evidence.builders import access_events

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
_documents = st.dictionaries(st.text(max_size=8), _values, max_size=8)


@given(_documents, st.randoms(use_true_random=False))
def test_independent_of_insertion_order(document: dict[str, Any], rnd: Any) -> None:
    items = list(document.items())
    rnd.shuffle(items)
    assert canonical_bytes(dict(items)) == canonical_bytes(document)


@given(_documents)
def test_equal_values_give_identical_bytes(document: dict[str, Any]) -> None:
    copy = json.loads(json.dumps(document))
    assert copy == document
    assert canonical_bytes(copy) == canonical_bytes(document)


@given(_documents)
def test_bytes_decode_back_to_the_value(document: dict[str, Any]) -> None:
    assert json.loads(canonical_bytes(document).decode("utf-8")) == document


@given(access_events())
def test_event_dicts_encode(event: AccessEvent) -> None:
    data = event_to_dict(event)
    assert json.loads(canonical_bytes(data)) == data


def test_exact_form() -> None:
    value = {"b": [1, True, None], "a": "é", "c": {"z": 1, "y": ""}}
    assert canonical_bytes(value) == '{"a":"é","b":[1,true,null],"c":{"y":"","z":1}}'.encode()


def test_tuples_encode_like_lists() -> None:
    assert canonical_bytes({"x": (1, 2)}) == canonical_bytes({"x": [1, 2]})


def test_non_ascii_is_utf8_not_escaped() -> None:
    assert canonical_bytes({"name": "Zoë 患者"}) == '{"name":"Zoë 患者"}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        {"x": 1.0},
        {"x": 0.5},
        {"x": math.nan},
        {"x": math.inf},
        {"x": [1, 2.5]},
        {"x": {"y": {"z": -0.0}}},
        {"x": ({"y": 1e3},)},
    ],
)
def test_floats_are_refused_at_any_depth(value: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="float"):
        canonical_bytes(value)


def test_bool_and_int_are_distinct() -> None:
    assert canonical_bytes({"x": True}) != canonical_bytes({"x": 1})
