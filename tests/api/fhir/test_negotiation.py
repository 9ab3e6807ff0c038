"""Content negotiation of the FHIR routes: FHIR JSON or 406, never JSON nobody asked for."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.fhir.negotiation import JSON_FORMATS, serves_json


@pytest.mark.parametrize(
    ("accept", "format_param", "served"),
    [
        ("", None, True),
        ("application/fhir+json", None, True),
        ("application/json", None, True),
        ("application/fhir+json; fhirVersion=4.0", None, True),
        ("text/html, */*;q=0.8", None, True),
        ("application/*", None, True),
        ("application/fhir+xml", None, False),
        ("application/xml, text/turtle", None, False),
        ("application/fhir+json;q=0, application/fhir+xml", None, False),
        ("application/fhir+xml", "json", True),  # _format wins over Accept
        ("", "xml", False),
        ("", "application/fhir+xml", False),
        ("", "application/fhir+json", True),
        ("", " JSON ", True),
    ],
)
def test_negotiation(accept: str, format_param: str | None, served: bool) -> None:
    assert serves_json(accept, format_param) is served


MEDIA = st.sampled_from(
    ["application/fhir+xml", "application/xml", "text/turtle", "text/html", "image/png"]
)


@given(st.lists(MEDIA, min_size=1, max_size=4))
def test_only_non_json_ranges_are_refused(ranges: list[str]) -> None:
    assert not serves_json(", ".join(ranges), None)
    assert serves_json(", ".join([*ranges, "application/fhir+json"]), None)


@given(st.sampled_from(sorted(JSON_FORMATS)), st.text(max_size=40))
def test_a_json_format_parameter_is_served_whatever_accept_says(fmt: str, accept: str) -> None:
    assert serves_json(accept, fmt)
