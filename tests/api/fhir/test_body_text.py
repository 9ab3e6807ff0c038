"""has_control_character over every JSON shape: a forbidden control character anywhere (a
value or a property name, at any depth) is found; text of the allowed characters never is."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.fhir.body_text import has_control_character

FORBIDDEN = [chr(c) for c in range(32) if chr(c) not in "\t\n\r"]
allowed_text = st.text(st.characters(blacklist_characters=FORBIDDEN, blacklist_categories=["Cs"]))


def json_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=20,
    )


@given(json_values(allowed_text))
def test_allowed_text_passes(value: Any) -> None:
    assert not has_control_character(value)


@st.composite
def with_one_forbidden(draw: st.DrawFn) -> Any:
    """A valid value with one string (a value or a key) made to carry a forbidden character,
    placed somewhere down a path of lists and objects."""
    bad = draw(allowed_text) + draw(st.sampled_from(FORBIDDEN)) + draw(allowed_text)
    node: Any = bad
    for _ in range(draw(st.integers(0, 5))):
        sibling = draw(json_values(allowed_text))
        shape = draw(st.sampled_from(["list", "value", "key"]))
        if shape == "list":
            node = [sibling, node] if draw(st.booleans()) else [node, sibling]
        elif shape == "value":
            node = {draw(allowed_text): node, "\t": sibling}
        else:
            node = {bad: sibling, "x": node}
    return node


@given(with_one_forbidden())
def test_a_forbidden_character_anywhere_is_found(value: Any) -> None:
    assert has_control_character(value)


def test_the_boundaries() -> None:
    assert has_control_character({"a": ["x\u0000"]})
    assert has_control_character({"\u001f": 1})
    assert not has_control_character({"a": "tab\tcr\rlf\n\u0020\u007f\u0080"})
